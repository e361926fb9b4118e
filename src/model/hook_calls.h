// How the float graphs call their (optional) quantization hooks; shared by the ViT and Swin forward passes.
#pragma once

#include <string>

#include "fqvit/model/float_kernels.h"
#include "fqvit/model/quant_hooks.h"

namespace fqvit {

// LayerNorm through the hooks: the integer LayerNorm of PTF when the hooks provide it, else float.
inline void norm_through(const FloatKernels& k, QuantHooks* hooks, const std::string& in_q, const std::string& out_q, const float* x,
                         int64_t rows, int64_t d, const Tensor& gamma, const Tensor& beta, float eps, float* y) {
  if (hooks != nullptr && hooks->layer_norm(in_q, out_q, x, rows, d, gamma, beta, y)) return;
  k.layer_norm(x, rows, d, gamma, beta, eps, y);
}

// An activation quantizer point: a no-op in plain FP32.
inline void act(QuantHooks* hooks, const std::string& name, float* x, int64_t rows, int64_t cols) {
  if (hooks != nullptr) hooks->activation(name, x, rows, cols);
}

// Attention softmax through the hooks: Log-Int-Softmax when the hooks provide it (reading `logits_quantizer`'s
// scale), else the float softmax followed by the softmax output's quantizer point.
inline void softmax_through(const FloatKernels& k, QuantHooks* hooks, const std::string& name, const std::string& logits_quantizer,
                            float* scores, int64_t rows, int64_t cols) {
  if (hooks != nullptr && hooks->softmax(name, logits_quantizer, scores, rows, cols)) return;
  k.softmax_rows(scores, rows, cols);
  act(hooks, name, scores, rows, cols);
}

}  // namespace fqvit
