// Through the public API as a user's program sees it (linked to libfqvit.so): how long Model::load takes, and the
// images/s of one image and of a batch of 8, both from pre-cropped uint8 NHWC bytes (Model::logits) and from JPEG
// files (Model::classify_files: decode + Pillow-exact resize/crop + run). Median of repeated calls after a warm-up.
// Prints figures; asserts nothing.
//
//   fqvit-bench-api --model FILE_OR_DIR [--images DIR_OF_JPEGS] [--threads 2] [--seconds 3] [--engine NAME]
#include <fqvit/fqvit.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Median images/s of `call` (which runs `batch` images) over at least 3 calls and `seconds`, after one warm-up.
double median_rate(const std::function<void()>& call, int batch, double seconds) {
  call();
  std::vector<double> rates;
  const auto start = std::chrono::steady_clock::now();
  while (rates.size() < 3 || seconds_since(start) < seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    rates.push_back(batch / seconds_since(t0));
  }
  std::nth_element(rates.begin(), rates.begin() + static_cast<long>(rates.size() / 2), rates.end());
  return rates[rates.size() / 2];
}

std::vector<std::string> first_images(const std::string& dir, size_t count) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".JPEG" || ext == ".jpg" || ext == ".jpeg" || ext == ".png")) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.size() > count) files.resize(count);
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-bench-api: load time and 1-image / batch-8 images/s through the public API"};
  std::string model_path, images_dir, engine;
  int threads = 2;
  double seconds = 3.0;
  app.add_option("--model", model_path, "quantized model file or checkpoint directory")->required();
  app.add_option("--images", images_dir, "a folder of JPEG/PNG files for the classify_files figures");
  app.add_option("--engine", engine, "engine (default: the API's choice for the file)");
  app.add_option("--threads", threads, "compute threads per call")->check(CLI::Range(0, 1024));
  app.add_option("--seconds", seconds, "time per figure")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    fqvit::LoadOptions options;
    options.engine = engine;
    options.threads = threads;
    auto t0 = std::chrono::steady_clock::now();
    const fqvit::Model model = fqvit::Model::load(model_path, options);
    const double load_seconds = seconds_since(t0);
    std::printf("model %s  engine %s  threads %d\n", model.architecture().c_str(), model.engine().c_str(), threads);
    std::printf("load            %.3f s\n", load_seconds);

    const size_t s = static_cast<size_t>(model.input_size());
    std::vector<uint8_t> pixels(8 * s * s * 3);
    std::mt19937 rng(0);
    for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng() & 0xff);
    for (int batch : {1, 8}) {
      const std::span<const uint8_t> view(pixels.data(), static_cast<size_t>(batch) * s * s * 3);
      const double rate = median_rate([&] { model.logits(view); }, batch, seconds);
      std::printf("logits(uint8 NHWC)   batch %d: %7.1f images/s  (%.1f ms per call)\n", batch, rate,
                  1000.0 * batch / rate);
    }
    if (!images_dir.empty()) {
      const std::vector<std::string> files = first_images(images_dir, 8);
      for (size_t batch : {size_t{1}, size_t{8}}) {
        if (files.size() < batch) break;
        const std::vector<std::string> some(files.begin(), files.begin() + static_cast<long>(batch));
        const double rate = median_rate([&] { model.classify_files(some, 5); }, static_cast<int>(batch), seconds);
        std::printf("classify_files(JPEG) batch %zu: %7.1f images/s  (%.1f ms per call)\n", batch, rate,
                    1000.0 * static_cast<double>(batch) / rate);
      }
    }
    return 0;
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-bench-api: error: %s\n", e.what());
    return 1;
  }
}
