// The float graphs call these hooks exactly where the FQ-ViT reference places a quantizer, under the reference's
// module names ("blocks.3.attn.qact1", "blocks.3.qact2", ...). With no hooks the graph is plain FP32; calibration
// observes through them; fake quantization replaces tensors by their quantize-dequantize through them.
#pragma once

#include <cstdint>
#include <string>

#include "fqvit/core/tensor.h"

namespace fqvit {

class QuantHooks {
 public:
  virtual ~QuantHooks() = default;

  // An activation quantizer (FQ-ViT's QAct). `x` is row-major [rows, channels]; per-channel quantizers (PTF on the
  // residual stream) use the last dimension. The hook may observe x or overwrite it in place.
  virtual void activation(const std::string& name, float* x, int64_t rows, int64_t channels) = 0;

  // A LayerNorm whose input was last quantized by `input_quantizer` and whose output feeds `output_quantizer`
  // (the reference's QIntLayerNorm arguments). Return true after writing `y` [rows, channels] to replace the float
  // LayerNorm (the integer LayerNorm of PTF); return false to let the graph run it in float.
  virtual bool layer_norm(const std::string& input_quantizer, const std::string& output_quantizer, const float* x,
                          int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta, float* y) {
    (void)input_quantizer, (void)output_quantizer, (void)x, (void)rows, (void)channels, (void)gamma, (void)beta,
        (void)y;
    return false;
  }

  // Softmax over the last axis of attention logits `x` [rows, cols] that `logits_quantizer` has just handled.
  // Return true after overwriting x with probabilities (Log-Int-Softmax); return false and the graph runs the float
  // softmax and then calls activation(name, ...) on its output.
  virtual bool softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
                       int64_t cols) {
    (void)name, (void)logits_quantizer, (void)x, (void)rows, (void)cols;
    return false;
  }
};

}  // namespace fqvit
