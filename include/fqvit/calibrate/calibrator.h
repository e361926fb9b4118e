// Post-training calibration on the float forward pass, as the reference: every batch goes through the float graph
// with CalibrationHooks; the last batch fixes every quantizer. Weights are fitted from the model (MinMax).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fqvit/calibrate/hooks.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/calibrate/quant_state.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

class Calibrator {
 public:
  // Throws Error for invalid settings or overrides naming unknown layers.
  Calibrator(VisionModel& model, QuantSettings settings);

  // One calibration batch [B, C, S, S]; `last` fits every quantizer on it.
  void observe(const Tensor& images, bool last);
  // The fitted state (call after a last batch). Throws Error if no last batch was observed.
  QuantState finish();

  const std::vector<QuantizerSpec>& activation_specs() const { return activation_specs_; }
  const std::vector<QuantizerSpec>& weight_specs() const { return weight_specs_; }
  const CalibrationHooks& hooks() const { return hooks_; }

 private:
  VisionModel& model_;
  QuantSettings settings_;
  std::vector<QuantizerSpec> activation_specs_;
  std::vector<QuantizerSpec> weight_specs_;
  CalibrationHooks hooks_;
  bool finished_batch_ = false;
};

}  // namespace fqvit
