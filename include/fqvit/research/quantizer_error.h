// How much each quantizer distorts its tensor, for fqvit-inspect's error table and for accuracy diagnosis: SQNR and
// cosine similarity of every quantized tensor against FP32, measured two ways on the same images.
//
//   own:          the quantizer's output against its own input in the fake-quant pass (the error it adds)
//   against FP32: the quantizer's output against the same point of the plain FP32 pass (all error upstream too)
//
// SQNR = 10 log10(sum x^2 / sum (x - q)^2) in dB with x the reference, cosine = x.q / (|x| |q|); sums in double.
#pragma once

#include <string>
#include <vector>

#include "fqvit/calibrate/quant_state.h"
#include "fqvit/core/tensor.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

struct QuantizerError {
  std::string name;  // quantizer point ("blocks.3.attn.qact1") or weight ("blocks.3.attn.qkv")
  std::string role;  // weight | activation | residual | attention
  std::string kind;  // uniform | ptf | lis | weight
  int bits = 0;
  double sqnr_db = 0;        // own error (weights: dequantized against float weights)
  double cosine = 0;
  double sqnr_fp32_db = 0;   // against the FP32 pass (weights: same as own)
  double cosine_fp32 = 0;
};

struct ErrorSums {
  double ref2 = 0, err2 = 0, dot = 0, q2 = 0;
  void add(const float* ref, const float* q, int64_t n);
  double sqnr_db() const;  // +inf for an exact match
  double cosine() const;   // 1 when both are zero
};

// Runs `images` ([B, C, S, S], normalized) through `float_model` in FP32 and in fake quantization with `state` (on
// a clone; float_model is not changed) and measures every activation quantizer and every weight, worst (lowest
// SQNR against FP32) first. Throws Error when the state does not cover the model.
std::vector<QuantizerError> measure_quantizer_errors(const VisionModel& float_model, const QuantState& state,
                                                     const Tensor& images);

}  // namespace fqvit
