// fqvit-sweep: calibrate + evaluate the cross product a sweep config names, appending one JSON line per run.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/eval/engine.h"
#include "fqvit/io/atomic_file.h"
#include "fqvit/io/output_paths.h"
#include "fqvit/research/sweep.h"
#include "cli_common.h"

namespace {

struct Args {
  std::string config, out = "results.jsonl", work_dir, calib, calib_list, data, class_list, labels, emit_jobs,
                      jobs_out_dir;
  std::vector<std::string> models, only, engines;
  int threads = 0, decode_threads = 1;
  bool list = false;
};

// The command line a job repeats: everything that decides the runs, never --out / --only / --emit-jobs.
std::vector<std::string> job_argv(const char* self, const Args& a) {
  std::vector<std::string> argv = {std::filesystem::absolute(self).string(), "--config", a.config, "--work-dir",
                                   a.work_dir};
  for (const auto& m : a.models) argv.insert(argv.end(), {"--model", m});
  for (const auto& e : a.engines) argv.insert(argv.end(), {"--engine", e});
  const std::pair<const char*, const std::string*> paths[] = {{"--calib", &a.calib},
                                                              {"--calib-list", &a.calib_list},
                                                              {"--data", &a.data},
                                                              {"--class-list", &a.class_list},
                                                              {"--labels", &a.labels}};
  for (const auto& [flag, value] : paths) {
    if (!value->empty()) argv.insert(argv.end(), {flag, *value});
  }
  if (a.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(a.threads)});
  return argv;
}

int run(const Args& a, const char* self) {
  fqvit::cli::check_range("--threads", a.threads, 0, 1024);
  fqvit::cli::check_range("--decode-threads", a.decode_threads, 1, 64);
  // The results file's folder is made for it (a job's <out>.parts/ too), then checked with the other outputs.
  if (!std::filesystem::path(a.out).parent_path().empty()) {
    std::filesystem::create_directories(std::filesystem::path(a.out).parent_path());
  }
  fqvit::check_output_paths({{"--out", a.out}, {"--emit-jobs", a.emit_jobs}}, {{"--config", a.config}});
  fqvit::set_num_threads(a.threads);
  fqvit::SweepConfig config = fqvit::load_sweep_config(a.config);
  // Command-line paths replace the config's (relative to the current directory, as every other flag).
  if (!a.models.empty()) config.paths.models = a.models;
  if (!a.calib.empty()) config.paths.calib = a.calib;
  if (!a.calib_list.empty()) config.calibration.calib_list = a.calib_list;
  if (!a.data.empty()) config.paths.data = a.data;
  if (!a.class_list.empty()) config.paths.class_list = a.class_list;
  if (!a.labels.empty()) config.paths.labels = a.labels;
  if (!a.engines.empty()) {
    const std::vector<std::string> known = fqvit::engine_names();
    for (const std::string& e : a.engines) {
      if (std::find(known.begin(), known.end(), e) == known.end()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        fqvit::fail("command line", "--engine", "'" + e + "'", "one of " + list);
      }
    }
    config.engines = a.engines;
  }
  const std::vector<fqvit::SweepRun> runs = fqvit::expand_runs(config);

  if (a.list) {
    for (const auto& r : runs)
      std::printf("%s  %s  %s  %s\n", r.key.c_str(), r.model.c_str(), r.engine.c_str(), r.label.c_str());
    return 0;
  }
  if (!a.emit_jobs.empty()) {
    const std::string dir = a.jobs_out_dir.empty() ? a.out + ".parts" : a.jobs_out_dir;
    const auto commands = fqvit::sweep_job_commands(runs, job_argv(self, a), dir);
    std::filesystem::create_directories(dir);
    fqvit::write_file_atomically(a.emit_jobs, [&](std::ostream& out) {
      for (const auto& c : commands) out << c << "\n";
    });
    std::printf("wrote %zu job commands to %s (each appends to %s/<key>.jsonl; fqvit-report reads them all)\n",
                commands.size(), a.emit_jobs.c_str(), dir.c_str());
    return 0;
  }
  fqvit::SweepOptions options;
  options.out = a.out;
  options.work_dir = a.work_dir;
  options.only = a.only;
  options.decode_threads = a.decode_threads;
  std::printf("%s: %zu runs, results in %s\n", a.config.c_str(), runs.size(), a.out.c_str());
  std::fflush(stdout);
  const fqvit::SweepSummary s = fqvit::run_sweep(config, runs, options, stdout);
  std::printf("sweep done: %lld runs, %lld already finished, %lld ok, %lld failed\n", static_cast<long long>(s.runs),
              static_cast<long long>(s.finished), static_cast<long long>(s.ok), static_cast<long long>(s.failed));
  return s.failed > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-sweep: calibrate and evaluate every setting of a sweep config, one JSON line per run"};
  fqvit::cli::show_defaults(app);
  Args a;
  app.add_option("--config", a.config, "sweep config (configs/sweeps/*.json)")->required();
  app.add_option("--out", a.out, "results JSONL to append to (default results.jsonl); finished runs are skipped");
  app.add_option("--work-dir", a.work_dir, "where quantized model files go (default <out>.models)");
  app.add_option("--model", a.models, "checkpoint directory; repeat for several; replaces the config's models");
  app.add_option("--calib", a.calib, "calibration ImageFolder (replaces the config's)");
  app.add_option("--calib-list", a.calib_list,
                 "file of calibration image paths fixing the order (replaces the config's)");
  app.add_option("--data", a.data, "evaluation ImageFolder (replaces the config's)");
  app.add_option("--class-list", a.class_list, "class list (replaces the config's)");
  app.add_option("--labels", a.labels, "label file (replaces the config's)");
  app.add_option("--engine", a.engines, "engine to run (repeat for several; replaces the config's engines)");
  app.add_option("--threads", a.threads, "compute threads, 0..1024 (0 = all cores)");
  app.add_option("--decode-threads", a.decode_threads, "background image decoding threads, 1..64");
  app.add_option("--only", a.only, "run only the run with this key (repeatable; see --list)");
  app.add_flag("--list", a.list, "print every run's key, model, engine and setting, run nothing");
  app.add_option("--emit-jobs", a.emit_jobs, "write one shell command per run to this file (GNU parallel, Slurm)");
  app.add_option("--jobs-out-dir", a.jobs_out_dir, "where emitted jobs write their JSONL (default <out>.parts)");
  if (const int status = fqvit::cli::parse(app, argc, argv, "fqvit-sweep"); status >= 0) return status;
  if (a.work_dir.empty()) a.work_dir = a.out + ".models";
  try {
    return run(a, argv[0]);
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-sweep: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fqvit-sweep: internal error: %s\n", e.what());
    return 2;
  }
}
