#include "fqvit/research/sweep.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/eval/engine.h"
#include "fqvit/eval/evaluate.h"
#include "fqvit/io/dataset.h"
#include "fqvit/io/model_config.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/research/calibration_run.h"
#include "fqvit/research/results_file.h"

#ifndef FQVIT_VERSION
#define FQVIT_VERSION "unknown"
#endif

namespace fqvit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return text;
}

std::string model_name(const std::string& model) {
  try {
    return load_model_config(model).architecture;
  } catch (const Error&) {
    return fs::path(model).filename().string();
  }
}

// What every line records about the run, whether it finished or failed.
json run_header(const SweepConfig& c, const SweepRun& run) {
  json j = {{"key", run.key},
            {"label", run.label},
            {"model", run.model},
            {"model_name", model_name(run.model)},
            {"engine", run.engine},
            {"data", c.paths.data},
            {"class_list", c.paths.class_list},
            {"labels", c.paths.labels},
            {"eval_limit", c.eval.limit},
            {"eval_batch_size", c.eval.batch_size},
            {"tool_version", fqvit_version()},
            {"sweep", c.path}};
  if (run.settings) {
    const QuantSettings& s = *run.settings;
    j["method"] = s.method;
    j["ptf"] = s.ptf;
    j["lis"] = s.lis;
    j["bits"] = {{"weight", s.w_bits}, {"activation", s.a_bits}, {"attention", s.attn_bits}};
    j["method_label"] = run.name.empty() ? method_label(s) : run.name;
    j["settings"] = json::parse(s.to_json());
    j["calibration"] = {{"calib", c.paths.calib},
                        {"images", c.calibration.images},
                        {"batch_size", c.calibration.batch},
                        {"seed", c.calibration.seed},
                        {"calib_list", c.calibration.calib_list},
                        {"numerics", c.calibration.numerics}};
  } else {
    j["method_label"] = "FP32";
    j["bits"] = {{"weight", 32}, {"activation", 32}, {"attention", 32}};
  }
  return j;
}

// The quantized file of a run's calibration key: made once, reused by every engine (and by reruns; the file is
// written atomically, so one that exists is complete). Returns the calibration's seconds, as the file records them.
double ensure_calibrated(const SweepConfig& c, const SweepRun& run, const std::string& path, int decode_threads) {
  if (!fs::exists(path)) {
    CalibrationRequest request;
    request.model = run.model;
    request.calib = c.paths.calib;
    request.class_list = c.paths.class_list;
    request.images = c.calibration.images;
    request.batch = c.calibration.batch;
    request.seed = c.calibration.seed;
    request.calib_list = c.calibration.calib_list;
    request.numerics = c.calibration.numerics;
    request.decode_threads = decode_threads;
    return calibrate_to_file(*run.settings, request, path).seconds;
  }
  const auto meta = SafetensorsFile::open(path).metadata();
  const auto it = meta.find("calibration");
  if (it == meta.end()) return 0.0;
  return json::parse(it->second).value("seconds", 0.0);
}

json execute(const SweepConfig& c, const SweepRun& run, const SweepOptions& options) {
  json j = run_header(c, run);
  std::string model_path = run.model;
  if (run.settings) {
    fs::create_directories(options.work_dir);
    model_path = (fs::path(options.work_dir) /
                  (fs::path(run.model).filename().string() + "." + run.calibration_key + ".safetensors"))
                     .string();
    j["calibration_seconds"] = ensure_calibrated(c, run, model_path, options.decode_threads);
    j["model_file"] = model_path;
    j["model_file_bytes"] = fs::file_size(model_path);
  } else {
    j["calibration_seconds"] = 0.0;
    j["model_file"] = run.model + "/model.safetensors";
    j["model_file_bytes"] = fs::file_size(run.model + "/model.safetensors");
  }
  std::optional<Numerics> numerics;
  // The float arithmetic of the float engines; the integer engine has none to choose.
  if (!c.eval.numerics.empty() && run.engine != "int") {
    numerics = parse_numerics(c.eval.numerics, c.path, "eval.numerics");
  }
  const Engine engine = open_engine(run.engine, model_path, numerics);
  const auto folder = ImageFolder::open(c.paths.data, {c.paths.class_list, c.paths.labels, engine.config.num_classes});
  std::vector<LabeledImage> images = folder.images();
  if (c.eval.limit > 0 && static_cast<size_t>(c.eval.limit) < images.size()) {
    images.resize(static_cast<size_t>(c.eval.limit));
  }
  EvalOptions eval;
  eval.batch_size = c.eval.batch_size;
  eval.decode_threads = options.decode_threads;
  // The integer engine takes the uint8 crops (forward_pixels), the float engines normalized tensors.
  const EvalResult r = engine.forward_pixels ? evaluate(engine.forward_pixels, images, engine.config.preprocess, eval)
                                             : evaluate(engine.forward, images, engine.config.preprocess, eval);
  if (r.images == 0) fail(c.paths.data, "images", "none decodable", "at least one image to evaluate");
  j["top1"] = r.top1();
  j["top5"] = r.top5();
  j["images"] = r.images;
  j["top1_correct"] = r.top1_correct;
  j["top5_correct"] = r.top5_correct;
  j["skipped_images"] = r.skipped.size();
  j["images_per_second"] = r.images_per_second();
  j["eval_seconds"] = r.seconds;
  j["threads"] = num_threads();
  j["numerics"] = engine.numerics;
  return j;
}

}  // namespace

std::string fqvit_version() { return FQVIT_VERSION; }

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%")
                          == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (char ch : arg) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

SweepSummary run_sweep(const SweepConfig& c, const std::vector<SweepRun>& all_runs, const SweepOptions& options,
                       std::FILE* log) {
  std::vector<SweepRun> runs;
  for (const SweepRun& r : all_runs) {
    if (options.only.empty() || std::find(options.only.begin(), options.only.end(), r.key) != options.only.end()) {
      runs.push_back(r);
    }
  }
  for (const std::string& key : options.only) {
    if (std::none_of(all_runs.begin(), all_runs.end(), [&](const SweepRun& r) { return r.key == key; })) {
      fail(c.path, "--only", key, "the key of a run of this sweep (see --list)");
    }
  }
  const ResultsFile previous = read_results(options.out, /*missing_ok=*/true);
  for (const std::string& w : previous.warnings) std::fprintf(log, "warning: %s\n", w.c_str());
  std::set<std::string> finished;
  for (const json& r : latest_by_key(previous.records)) {
    if (r["status"] == "ok") finished.insert(r["key"].get<std::string>());
  }

  SweepSummary summary;
  summary.runs = static_cast<int64_t>(runs.size());
  int64_t to_run = 0;
  for (const SweepRun& r : runs) to_run += finished.count(r.key) ? 0 : 1;
  summary.finished = summary.runs - to_run;
  if (summary.finished > 0) {
    std::fprintf(log, "%lld of %lld runs already in %s: skipped\n", static_cast<long long>(summary.finished),
                 static_cast<long long>(summary.runs), options.out.c_str());
  }
  double spent = 0.0;
  int64_t executed = 0;
  int64_t position = 0;
  for (const SweepRun& run : runs) {
    ++position;
    if (finished.count(run.key)) continue;
    const auto start = Clock::now();
    const std::string started = utc_now();
    json line;
    try {
      line = execute(c, run, options);
      line["status"] = "ok";
      ++summary.ok;
    } catch (const std::exception& e) {  // recorded, and the sweep goes on
      line = run_header(c, run);
      line["status"] = "failed";
      line["error"] = e.what();
      ++summary.failed;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    line["started"] = started;
    line["seconds"] = seconds;
    append_result(options.out, line);
    spent += seconds;
    ++executed;
    const double eta = spent / static_cast<double>(executed) * static_cast<double>(to_run - executed);
    char top1[32] = "";
    if (line["status"] == "ok") std::snprintf(top1, sizeof top1, "top-1 %.2f %%", line["top1"].get<double>());
    const std::string outcome = line["status"] == "ok" ? top1 : "FAILED: " + line["error"].get<std::string>();
    std::fprintf(log, "[%lld/%lld] %s %s %s: %s (%.1f s); ETA %s\n", static_cast<long long>(position),
                 static_cast<long long>(summary.runs), fs::path(run.model).filename().c_str(), run.engine.c_str(),
                 run.label.c_str(), outcome.c_str(), seconds, duration_text(eta).c_str());
    std::fflush(log);
  }
  return summary;
}

std::vector<std::string> sweep_job_commands(const std::vector<SweepRun>& runs, const std::vector<std::string>& argv,
                                            const std::string& out_dir) {
  std::string prefix;
  for (const std::string& a : argv) {
    if (!prefix.empty()) prefix += ' ';
    prefix += shell_quote(a);
  }
  std::vector<std::string> out;
  for (const SweepRun& r : runs) {
    out.push_back(prefix + " --only " + r.key + " --out " + shell_quote(out_dir + "/" + r.key + ".jsonl"));
  }
  return out;
}

}  // namespace fqvit
