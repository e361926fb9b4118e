#include "fqvit/calibrate/calibrator.h"

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

const QuantSettings& validated(const QuantSettings& s) {
  s.validate("quantization settings");
  return s;
}

}  // namespace

Calibrator::Calibrator(VisionModel& model, QuantSettings settings)
    : model_(model),
      settings_(validated(settings)),
      activation_specs_(plan_activations(model, settings_)),
      weight_specs_(plan_weights(model, settings_)),
      hooks_(activation_specs_, settings_) {}

void Calibrator::observe(const Tensor& images, bool last) {
  hooks_.begin_batch(last);
  model_.forward(images, &hooks_);
  if (last) finished_batch_ = true;
}

QuantState Calibrator::finish() {
  if (!finished_batch_) fail("calibration", "batches", "no last batch", "at least one batch observed with last=true");
  QuantState state;
  state.settings = settings_;
  state.int_layer_norm = settings_.ptf;
  state.weights = fit_weights(model_, weight_specs_);
  state.activations = hooks_.take_fitted();
  if (!settings_.extensions.channel_inputs.empty()) fold_channel_inputs(model_, state);
  if (settings_.extensions.bias_correction) correct_biases(model_, state, hooks_.channel_means());
  state.check_complete(model_, "calibration");
  return state;
}

}  // namespace fqvit
