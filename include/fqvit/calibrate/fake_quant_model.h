// A float model run in fake quantization, as the reference evaluates: weights quantize-dequantized once, every
// activation point quantize-dequantized on the fly, integer LayerNorm and Log-Int-Softmax emulated in float32.
#pragma once

#include <memory>
#include <string>

#include "fqvit/calibrate/quant_state.h"
#include "fqvit/core/tensor.h"
#include "fqvit/io/model_config.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

class FakeQuantModel {
 public:
  // Takes the float model and its quantization; checks that every point has a quantizer (throws Error naming
  // `origin` otherwise) and fake-quantizes the weights.
  FakeQuantModel(std::unique_ptr<VisionModel> model, QuantState state, const std::string& origin = "quant state");

  // images: normalized [B, C, S, S] -> logits [B, classes].
  Tensor forward(const Tensor& images) const;
  const ModelConfig& config() const { return model_->config(); }
  const QuantState& state() const { return state_; }
  Numerics numerics() const { return model_->numerics(); }  // the float arithmetic the emulation runs on

 private:
  std::unique_ptr<VisionModel> model_;
  QuantState state_;
};

}  // namespace fqvit
