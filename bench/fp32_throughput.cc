// FP32 throughput of a checkpoint at several batch sizes, on fqvit's fast numerics and on its torch numerics (the
// reference's arithmetic, float_kernels.h), side by side with PyTorch FP32 measured in the same run
// (bench/torch_fp32_bench.py with Debian's python3-torch), and the ratio. Prints figures; asserts nothing.
//
//   fqvit-bench-fp32 [--model DIR] [--batch 1 --batch 8] [--threads 2] [--seconds 3] [--no-torch]
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/model/vision_model.h"

namespace {

// Median images/s over repeated forward passes of random inputs, after one warm-up pass.
double measure_fqvit(const fqvit::VisionModel& model, int batch, double seconds) {
  const auto& c = model.config();
  fqvit::Tensor images({batch, c.in_chans, c.img_size, c.img_size});
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  for (int64_t i = 0; i < images.numel(); ++i) images[i] = normal(rng);
  model.forward(images);
  std::vector<double> rates;
  const auto start = std::chrono::steady_clock::now();
  while (rates.size() < 3 ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(images);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(batch / dt);
  }
  std::nth_element(rates.begin(), rates.begin() + static_cast<long>(rates.size() / 2), rates.end());
  return rates[rates.size() / 2];
}

// Runs the PyTorch side; returns batch -> images/s, empty when torch is unavailable.
std::map<int, double> measure_torch(const std::string& script, const std::string& model, const std::vector<int>& batches,
                                    int threads, double seconds) {
  std::string cmd = "/usr/bin/python3 " + script + " --model " + model + " --threads " + std::to_string(threads) +
                    " --seconds " + std::to_string(seconds) + " --batch";
  for (int b : batches) cmd += " " + std::to_string(b);
  cmd += " 2>/dev/null";
  std::map<int, double> result;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return result;
  std::string out;
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) out += buffer.data();
  try {
    const auto j = nlohmann::json::parse(out);
    for (const auto& entry : j.at("results")) result[entry.at("batch").get<int>()] = entry.at("images_per_second");
  } catch (const std::exception&) {
    std::fprintf(stderr, "PyTorch side gave no figures (is python3-torch installed?): %s\n", out.c_str());
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"FP32 images/s of fqvit beside PyTorch"};
  std::string model_dir = std::string(FQVIT_SOURCE_DIR) + "/../shared/models/vit_tiny_patch16_224";
  std::vector<int> batches;
  int threads = 2;
  double seconds = 3.0;
  bool no_torch = false;
  app.add_option("--model", model_dir, "checkpoint directory");
  app.add_option("--batch", batches, "batch sizes (default 1 and 8)");
  app.add_option("--threads", threads, "threads for both sides");
  app.add_option("--seconds", seconds, "measuring time per batch size");
  app.add_flag("--no-torch", no_torch, "skip the PyTorch side");
  CLI11_PARSE(app, argc, argv);
  if (batches.empty()) batches = {1, 8};
  // Bad figures are refused here, before oneDNN sees a zero-sized primitive (it aborts).
  try {
    for (int b : batches) {
      if (b < 1 || b > 4096) fqvit::fail("command line", "--batch", std::to_string(b), "1..4096");
    }
    if (threads < 1 || threads > 1024) fqvit::fail("command line", "--threads", std::to_string(threads), "1..1024");
    if (!(seconds > 0.0 && seconds <= 3600.0)) {
      fqvit::fail("command line", "--seconds", std::to_string(seconds), "a number in (0, 3600]");
    }
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-bench-fp32: error: %s\n", e.what());
    return 1;
  }
  if (!std::filesystem::is_directory(model_dir)) {
    std::fprintf(stderr, "skipped: no checkpoint at %s (pass --model DIR)\n", model_dir.c_str());
    return 0;
  }
  try {
    fqvit::set_num_threads(threads);
    const auto model = fqvit::load_model(model_dir);
    std::map<int, double> ours, ours_torch;
    for (int b : batches) ours[b] = measure_fqvit(*model, b, seconds);
    model->set_numerics(fqvit::Numerics::kTorch);
    for (int b : batches) ours_torch[b] = measure_fqvit(*model, b, seconds);
    std::map<int, double> torch;
    if (!no_torch) {
      torch = measure_torch(std::string(FQVIT_SOURCE_DIR) + "/bench/torch_fp32_bench.py", model_dir, batches, threads,
                            seconds);
    }
    std::printf("FP32 %s, %d threads\n", model->config().architecture.c_str(), threads);
    std::printf("%6s %12s %18s %14s %8s\n", "batch", "fqvit img/s", "fqvit torch-num.", "PyTorch img/s",
                "ratio");
    for (int b : batches) {
      if (torch.count(b)) {
        std::printf("%6d %12.1f %18.1f %14.1f %7.2fx\n", b, ours[b], ours_torch[b], torch[b], ours[b] / torch[b]);
      } else {
        std::printf("%6d %12.1f %18.1f %14s %8s\n", b, ours[b], ours_torch[b], "-", "-");
      }
    }
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
