// fqvit-bench: images/s and batch latency of one engine on synthetic input (the model alone: no decoding).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_common.h"
#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/eval/bench.h"
#include "fqvit/eval/engine.h"
#include "fqvit/io/atomic_file.h"
#include "fqvit/io/output_paths.h"

namespace {

constexpr double kMaxSeconds = 3600;

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

// Flags, the engine name and the output path before anything loads: a typo or an engine this build lacks costs
// nothing.
void check_command_line(const Args& args) {
  fqvit::cli::check_range("--batch", args.batch, 1, 4096);
  fqvit::cli::check_range("--threads", args.threads, 0, 1024);
  if (!(args.seconds >= 0 && args.seconds <= kMaxSeconds)) {
    fqvit::fail("command line", "--seconds", std::to_string(args.seconds), "0..3600");
  }
  const auto names = fqvit::engine_names();
  if (std::find(names.begin(), names.end(), args.engine) == names.end()) {
    fqvit::fail("command line", "--engine", args.engine, "one of the engines this build has: " + join(names));
  }
  fqvit::check_output_paths({{"--json", args.json_out}}, {{"--model", args.model},
                                                          {"--model", args.model + "/model.safetensors"},
                                                          {"--model", args.model + "/config.json"}});
}

int run(Args args) {
  if (args.engine.empty()) args.engine = fqvit::default_bench_engine(args.model);
  check_command_line(args);
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
  const fqvit::BenchResult r = fqvit::bench_forward(fqvit::batch_runner(engine, args.batch), options);
  const double load_after = fqvit::load_average();
  const std::string isa = fqvit::engine_isa(args.engine);

  std::printf("%s %s: batch %d, %d threads, isa %s: %.1f images/s, %.2f ms per batch (median of %d; %.2f-%.2f)"
              ", load %.1f\n",
              engine.config.architecture.c_str(), args.engine.c_str(), args.batch, fqvit::num_threads(), isa.c_str(),
              r.images_per_second(), r.median_ms, r.passes, r.min_ms, r.max_ms, std::max(load_before, load_after));
  if (args.json_out.empty()) return 0;
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
      {"model_file_bytes", fqvit::model_file_bytes(args.model)},
      {"model_resident_bytes", model_resident},
      {"peak_resident_bytes", fqvit::peak_resident_bytes()},
  };
  fqvit::write_file_atomically(args.json_out, [&](std::ostream& out) { out << j.dump(2) << "\n"; });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-bench: images/s of one engine on synthetic input (median of repeated passes after warm-up)"};
  fqvit::cli::show_defaults(app);
  Args args;
  app.add_option("--model", args.model, "checkpoint directory (fp32) or quantized model file (fake, int)")->required();
  app.add_option("--engine", args.engine,
                 "engine to time: " + join(fqvit::engine_names()) +
                     " (default: fp32 for a checkpoint directory; int, else fake, for a quantized file)");
  app.add_option("--numerics", args.numerics, "float arithmetic of fp32 / fake: fast or torch (engine default)");
  app.add_option("--batch", args.batch, "images per forward pass, 1..4096");
  app.add_option("--threads", args.threads, "compute threads, 0..1024 (0 = all cores)");
  app.add_option("--seconds", args.seconds, "timed seconds, 0..3600 (at least 5 passes)");
  app.add_option("--json", args.json_out, "write the figures as JSON");
  if (const int status = fqvit::cli::parse(app, argc, argv, "fqvit-bench"); status >= 0) return status;
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
