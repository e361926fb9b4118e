// fqvit-bench: images/s and batch latency of one engine on synthetic input (the model alone: no decoding).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/eval/bench.h"
#include "fqvit/eval/engine.h"
#include "fqvit/io/atomic_file.h"

namespace {

namespace fs = std::filesystem;

struct Args {
  std::string model, engine, numerics, json_out;
  int batch = 8, threads = 0;
  double seconds = 3.0;
};

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Refused before anything is loaded, so a typo or an engine this build lacks costs nothing.
void check_engine_name(const std::string& engine) {
  const auto names = fqvit::engine_names();
  if (std::find(names.begin(), names.end(), engine) == names.end()) {
    fqvit::fail("command line", "--engine", engine, "one of the engines this build has: " + join(names));
  }
}

// Without --engine: fp32 for a checkpoint directory; for a quantized file the integer engine when this build has
// it, else fake quant.
std::string default_engine_for(const std::string& model) {
  if (fs::is_directory(model)) return "fp32";
  const auto names = fqvit::engine_names();
  return std::find(names.begin(), names.end(), "int") != names.end() ? "int" : "fake";
}

// One batch of synthetic input and the call that runs the engine on it. The float engines take normalized images
// (Engine::forward); an engine that takes uint8 pixels instead (Engine::forward_pixels, the integer executor's
// input) gets pixels. Written against both shapes of Engine so the integer engine is timed as soon as it lands.
template <typename EngineT>
std::function<void()> batch_runner(const EngineT& engine, int batch) {
  if constexpr (requires { engine.forward_pixels; }) {
    if (engine.forward_pixels) {
      auto pixels = std::make_shared<std::vector<uint8_t>>(fqvit::synthetic_pixels(engine.config, batch));
      return [&engine, pixels, batch] { engine.forward_pixels(pixels->data(), batch); };
    }
  }
  auto images = std::make_shared<fqvit::Tensor>(fqvit::synthetic_images(engine.config, batch));
  return [&engine, images] { engine.forward(*images); };
}

// The model's bytes on disk: model.safetensors of a checkpoint directory, or the quantized file itself.
int64_t model_file_bytes(const std::string& model) {
  const fs::path file = fs::is_directory(model) ? fs::path(model) / "model.safetensors" : fs::path(model);
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

// The JSON output must never replace an input.
void check_output_path(const std::string& out, const std::string& model) {
  if (out.empty() || !fs::exists(out)) return;
  for (const fs::path& input : {fs::path(model), fs::path(model) / "model.safetensors", fs::path(model) / "config.json"}) {
    std::error_code ec;
    if (fs::exists(input) && fs::equivalent(out, input, ec)) {
      fqvit::fail(out, "--json", "the model's own file", "a new output path");
    }
  }
}

int run(Args args) {
  if (args.engine.empty()) args.engine = default_engine_for(args.model);
  check_engine_name(args.engine);
  check_output_path(args.json_out, args.model);
  fqvit::set_num_threads(args.threads);
  std::optional<fqvit::Numerics> numerics;
  if (!args.numerics.empty()) numerics = fqvit::parse_numerics(args.numerics, "command line", "--numerics");

  const double load_before = fqvit::load_average();
  const int64_t rss_before = fqvit::resident_bytes();
  const fqvit::Engine engine = fqvit::open_engine(args.engine, args.model, numerics);
  const int64_t model_resident = fqvit::resident_bytes() - rss_before;

  fqvit::BenchOptions options;
  options.batch = args.batch;
  options.seconds = args.seconds;
  const fqvit::BenchResult r = fqvit::bench_forward(batch_runner(engine, args.batch), options);
  const double load_after = fqvit::load_average();
  const std::string isa = fqvit::engine_isa(args.engine);

  std::printf("%s %s: batch %d, %d threads, isa %s: %.1f images/s, %.2f ms per batch (median of %d; %.2f-%.2f)"
              ", load %.1f\n",
              engine.config.architecture.c_str(), args.engine.c_str(), args.batch, fqvit::num_threads(), isa.c_str(),
              r.images_per_second(), r.median_ms, r.passes, r.min_ms, r.max_ms, std::max(load_before, load_after));
  if (!args.json_out.empty()) {
    const nlohmann::json j = {
        {"images_per_second", r.images_per_second()},
        {"latency_ms", r.median_ms},
        {"engine", args.engine},
        {"batch", args.batch},
        {"threads", fqvit::num_threads()},
        {"isa", isa},
        {"numerics", args.numerics.empty() ? "default" : args.numerics},
        {"model", args.model},
        {"architecture", engine.config.architecture},
        {"passes", r.passes},
        {"latency_ms_min", r.min_ms},
        {"latency_ms_max", r.max_ms},
        {"thread_wait_policy", fqvit::thread_wait_policy()},
        {"load_average", {load_before, load_after}},
        {"model_file_bytes", model_file_bytes(args.model)},
        {"model_resident_bytes", model_resident},
        {"peak_resident_bytes", fqvit::peak_resident_bytes()},
    };
    fqvit::write_file_atomically(args.json_out, [&](std::ostream& out) { out << j.dump(2) << "\n"; });
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-bench: images/s of one engine on synthetic input (median of repeated passes after warm-up)"};
  Args args;
  app.add_option("--model", args.model, "checkpoint directory (fp32) or quantized model file (fake, int)")->required();
  app.add_option("--engine", args.engine,
                 "engine to time: " + join(fqvit::engine_names()) + " (default: fp32 for a checkpoint directory, "
                 "the integer engine, else fake, for a quantized file)");
  app.add_option("--numerics", args.numerics, "float arithmetic of fp32 / fake: fast or torch (engine default)");
  app.add_option("--batch", args.batch, "images per forward pass")->check(CLI::Range(1, 4096));
  app.add_option("--threads", args.threads, "compute threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app.add_option("--seconds", args.seconds, "timed seconds (at least 5 passes)")->check(CLI::Range(0.0, 3600.0));
  app.add_option("--json", args.json_out, "write the figures as JSON");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(args);
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-bench: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // not an input error: a bug or the machine (memory, oneDNN)
    std::fprintf(stderr, "fqvit-bench: internal error: %s\n", e.what());
    return 2;
  }
}
