#include "fqvit/eval/bench.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <vector>

#include "dnnl.hpp"
#include "fqvit/kernels/gemm.h"

namespace fqvit {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A "Vm...:  1234 kB" line of /proc/self/status, in bytes.
int64_t proc_status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    int64_t kb = 0;
    fields >> kb;
    return kb * 1024;
  }
  return 0;
}

const char* onednn_isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

// Engine::forward_pixels (uint8 input) came with the integer executor; written against both shapes of Engine so the
// integer engine is timed as soon as the engine list has it.
template <typename EngineT>
std::function<void()> runner_for(const EngineT& engine, int batch) {
  if constexpr (requires { engine.forward_pixels; }) {
    if (engine.forward_pixels) {
      auto pixels = std::make_shared<std::vector<uint8_t>>(synthetic_pixels(engine.config, batch));
      return [&engine, pixels, batch] { engine.forward_pixels(pixels->data(), batch); };
    }
  }
  auto images = std::make_shared<Tensor>(synthetic_images(engine.config, batch));
  return [&engine, images] { engine.forward(*images); };
}

}  // namespace

std::string default_bench_engine(const std::string& model_path) {
  if (std::filesystem::is_directory(model_path)) return "fp32";
  const auto names = engine_names();
  return std::find(names.begin(), names.end(), "int") != names.end() ? "int" : "fake";
}

std::function<void()> batch_runner(const Engine& engine, int batch) { return runner_for(engine, batch); }

int64_t model_file_bytes(const std::string& model_path) {
  namespace fs = std::filesystem;
  const fs::path file = fs::is_directory(model_path) ? fs::path(model_path) / "model.safetensors" : fs::path(model_path);
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

Tensor synthetic_images(const ModelConfig& config, int batch) {
  Tensor images({batch, config.in_chans, config.img_size, config.img_size});
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  for (int64_t i = 0; i < images.numel(); ++i) images[i] = normal(rng);
  return images;
}

std::vector<uint8_t> synthetic_pixels(const ModelConfig& config, int batch) {
  std::vector<uint8_t> pixels(static_cast<size_t>(batch) * static_cast<size_t>(config.in_chans) *
                              static_cast<size_t>(config.img_size) * static_cast<size_t>(config.img_size));
  std::mt19937 rng(0);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& p : pixels) p = static_cast<uint8_t>(byte(rng));
  return pixels;
}

BenchResult bench_forward(const std::function<void()>& run_batch, const BenchOptions& options) {
  const auto warmup_start = Clock::now();
  for (int i = 0; i < options.warmup_passes || seconds_since(warmup_start) < options.warmup_seconds; ++i) {
    run_batch();
  }
  std::vector<double> ms;
  const auto start = Clock::now();
  while (static_cast<int>(ms.size()) < options.min_passes || seconds_since(start) < options.seconds) {
    const auto t0 = Clock::now();
    run_batch();
    ms.push_back(1000.0 * seconds_since(t0));
  }
  std::sort(ms.begin(), ms.end());
  BenchResult r;
  r.batch = options.batch;
  r.passes = static_cast<int>(ms.size());
  // The middle pass; for an even count the mean of the two middle ones (the usual median).
  const size_t mid = ms.size() / 2;
  r.median_ms = ms.size() % 2 ? ms[mid] : 0.5 * (ms[mid - 1] + ms[mid]);
  r.min_ms = ms.front();
  r.max_ms = ms.back();
  return r;
}

std::string engine_isa(const std::string& engine) {
  if (engine == "fp32" || engine == "fake") return onednn_isa_name(dnnl::get_effective_cpu_isa());
  return gemm_isa();
}

int64_t resident_bytes() { return proc_status_bytes("VmRSS"); }
int64_t peak_resident_bytes() { return proc_status_bytes("VmHWM"); }

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one_minute = -1;
  if (!(in >> one_minute)) return -1;
  return one_minute;
}

}  // namespace fqvit
