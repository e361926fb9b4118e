// Runs a sweep: one calibration per distinct (model, setting), shared by the engines that evaluate it, one JSON line
// appended per finished run, finished runs skipped on a rerun, a failed run recorded with its error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fqvit/research/sweep_config.h"

namespace fqvit {

struct SweepOptions {
  std::string out;                // results JSONL, appended to
  std::string work_dir;           // quantized model files, one per calibration key
  std::vector<std::string> only;  // run keys to run (empty: all)
  int decode_threads = 1;
};

struct SweepSummary {
  int64_t runs = 0;      // selected runs
  int64_t finished = 0;  // skipped: already in the results file with status "ok"
  int64_t ok = 0;
  int64_t failed = 0;
};

// The tool version every result line records.
std::string fqvit_version();

// Runs what `out` does not hold yet, printing one progress line per run with an ETA to `log`.
SweepSummary run_sweep(const SweepConfig& config, const std::vector<SweepRun>& runs, const SweepOptions& options,
                       std::FILE* log);

// One shell command per run that runs it alone (`<argv...> --only KEY --out <out_dir>/KEY.jsonl`), for GNU
// parallel or a Slurm array; `argv` is the sweep's own command line without --out, --only and --emit-jobs.
std::vector<std::string> sweep_job_commands(const std::vector<SweepRun>& runs, const std::vector<std::string>& argv,
                                            const std::string& out_dir);

std::string shell_quote(const std::string& arg);

}  // namespace fqvit
