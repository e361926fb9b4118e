// A sweep: the cross product of models, quantization settings and engines that fqvit-sweep calibrates and
// evaluates (configs/sweeps/*.json), expanded into runs with stable keys so a rerun can skip finished ones.
//
// {
//   "description": "...",
//   "models": ["../../demo/models/vit_micro"],        paths relative to the config file; --model replaces them
//   "calib": "...", "data": "...", "class_list": "...", "labels": "...",
//   "calibration": {"images": 1000, "batch_size": 100, "seed": 0, "numerics": "torch", "calib_list": "order.txt"},
//   "eval": {"batch_size": 32, "limit": 0, "numerics": "fast"},
//   "engines": ["fp32", "fake"],                        fp32: one run per model; others: one per setting
//   "settings": [ {"method": ["minmax", "omse"], "ptf": [false, true], "lis": false, "bits": ["8/8/8", "8/8/4"],
//                  "layers": {"head": {"bits": 8}}, "lis_exp_shift": 30},
//                 {"name": "fqvit_plus 8/8/4", "bits": "8/8/4", "extensions": {"ptf_k": "auto", ...}} ]
// }
// Every settings entry expands to the cross product of its lists (a scalar is a list of one); bits are
// "weight/activation/attention"; "extensions" is the object of calibrate/extensions.h; "name" (an entry of one
// setting) is the row's label in results and tables instead of method and bits.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fqvit/calibrate/plan.h"

namespace fqvit {

struct SweepPaths {
  std::vector<std::string> models;
  std::string calib, data, class_list, labels;
};

struct SweepCalibration {
  std::string calib_list;  // fixes the image order (e.g. the reference's calib_order.txt); else seeded shuffle
  int64_t images = 1000;
  int64_t batch = 100;
  uint64_t seed = 0;
  std::string numerics = "torch";
};

struct SweepEval {
  int batch_size = 32;
  int64_t limit = 0;
  std::string numerics;  // "" = the engine's default
};

struct SweepConfig {
  std::string path;  // the file it came from, for messages
  std::string description;
  SweepPaths paths;
  SweepCalibration calibration;
  SweepEval eval;
  std::vector<std::string> engines;
  std::vector<QuantSettings> settings;  // expanded, in file order
  std::vector<std::string> setting_names;  // beside settings: the entry's "name", or ""
};

// One calibrate + evaluate (or FP32 evaluate) of the sweep.
struct SweepRun {
  std::string model;
  std::string engine;
  std::optional<QuantSettings> settings;  // unset for fp32
  std::string key;              // FNV-1a of everything that decides the result: rerun skips a finished key
  std::string calibration_key;  // shared by the runs one calibration serves (same model and setting)
  std::string label;            // "MinMax+PTF+LIS 8/8/4", or the setting's name
  std::string name;             // the setting's "name" ("" when none)
};

// Reads and validates a sweep config; throws Error naming the file, the key, the value found and the ones allowed.
SweepConfig load_sweep_config(const std::string& path);
SweepConfig parse_sweep_config(const std::string& json_text, const std::string& origin,
                               const std::string& base_dir);

// The runs of a config in a stable order (model, then setting, then engine; fp32 first). Throws Error when a
// needed path (model, calib for quantized engines, data) is missing, naming it.
std::vector<SweepRun> expand_runs(const SweepConfig& config);

// "MinMax", "EMA", "Percentile", "OMSE", with "+PTF" and "+LIS" when on.
std::string method_label(const QuantSettings& settings);
std::string bits_label(const QuantSettings& settings);  // "8/8/4"

}  // namespace fqvit
