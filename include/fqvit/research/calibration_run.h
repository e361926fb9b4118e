// One calibration as fqvit-calibrate runs it (image order, batching, last batch fixes the quantizers), callable from
// the sweep and the inspect tool without a subprocess.
#pragma once

#include <cstdint>
#include <string>

#include "fqvit/calibrate/model_file.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/calibrate/quant_state.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

struct CalibrationRequest {
  std::string model;       // checkpoint directory
  std::string calib;       // calibration ImageFolder
  std::string class_list;
  std::string calib_list;  // a file of paths fixing the order (fqvit-calibrate --calib-list); else a seeded shuffle
  int64_t images = 1000;   // the first `images` of that order (fewer if the folder has fewer)
  int64_t batch = 100;
  uint64_t seed = 0;
  std::string numerics = "torch";
  int decode_threads = 1;
};

struct CalibrationOutcome {
  QuantState state;
  CalibrationInfo info;  // info.seconds: observe + fit, without loading the model
};

// Calibrates `model` (a float graph loaded from request.model) with `settings`. Throws Error for bad input.
CalibrationOutcome calibrate(VisionModel& model, const QuantSettings& settings, const CalibrationRequest& request);

// Loads the checkpoint, calibrates and writes the quantized model file `out` atomically.
CalibrationInfo calibrate_to_file(const QuantSettings& settings, const CalibrationRequest& request,
                                  const std::string& out);

}  // namespace fqvit
