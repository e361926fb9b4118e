// How the float graphs call their (optional) quantization hooks; shared by the ViT and Swin forward passes.
#pragma once

#include <string>

#include "fqvit/numerics/float_kernels.h"
#include "fqvit/model/quant_hooks.h"

namespace fqvit {

// LayerNorm through the hooks: the integer LayerNorm of PTF when the hooks provide it, else float.
inline void norm_through(const FloatKernels& k, QuantHooks* hooks, const std::string& in_q, const std::string& out_q,
                         const float* x,
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
inline void softmax_through(const FloatKernels& k, QuantHooks* hooks, const std::string& name,
                            const std::string& logits_quantizer,
                            float* scores, int64_t rows, int64_t cols) {
  if (hooks != nullptr && hooks->softmax(name, logits_quantizer, scores, rows, cols)) return;
  k.softmax_rows(scores, rows, cols);
  act(hooks, name, scores, rows, cols);
}

// The patch embedding, on the input quantized at "qact_input" first when the model quantizes its input (FQ-ViT's
// deit_* builders).
inline Tensor patch_embed_through(const FloatKernels& k, QuantHooks* hooks, bool quantize_input, const Tensor& images,
                                  const Tensor& weight, const Tensor& bias) {
  if (hooks == nullptr || !quantize_input) return k.patch_embed(images, weight, bias);
  Tensor quantized = images;
  act(hooks, "qact_input", quantized.data(), quantized.numel() / images.dim(-1), images.dim(-1));
  return k.patch_embed(quantized, weight, bias);
}

}  // namespace fqvit
