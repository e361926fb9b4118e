// Uniform affine quantization: the quantization equation lives on the type.
//
// Float emulation (the reference's fake quantization, bit for bit): q = clamp(round_half_even(x / scale + zp), lo, hi)
// with a true float32 division and a float32 add, then x' = (q - zp) * scale. Weights: symmetric per output channel,
// scale = absmax / ((hi - lo) / 2) (127.5 at 8 bits, as the reference), zp = 0. Activations: asymmetric per tensor,
// scale = (max - min) / (hi - lo) clamped to >= FLT_EPSILON, zp = clamp(lo - round(min / scale), lo, hi).
#pragma once

#include <cstdint>
#include <span>

#include "fqvit/quant/bit_type.h"
#include "fqvit/quant/rounding.h"

namespace fqvit {

// real = scale * (q - zero_point), q an integer code in the quantizer's BitType range.
struct QParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// The reference's lower bound on scales (torch.finfo(float32).eps).
constexpr float kMinScale = 1.1920928955078125e-07f;

// Code of one value (float32 emulation as above).
inline int32_t quantize(float x, QParams qp, BitType bt) {
  const float v = round_half_even(x / qp.scale + static_cast<float>(qp.zero_point));
  const float c = std::fmin(std::fmax(v, static_cast<float>(bt.lo())), static_cast<float>(bt.hi()));
  return static_cast<int32_t>(c);
}
inline float dequantize(int32_t q, QParams qp) {
  return static_cast<float>(q - qp.zero_point) * qp.scale;
}
inline float fake_quant(float x, QParams qp, BitType bt) { return dequantize(quantize(x, qp, bt), qp); }

// Quantize-dequantize n values in place with one QParams.
void fake_quant_inplace(float* x, int64_t n, QParams qp, BitType bt);

// Per-tensor asymmetric parameters from an observed range (min <= 0 <= max is not required).
QParams activation_qparams(float min, float max, BitType bt);
// Symmetric parameters of one weight channel from its min and max.
QParams weight_qparams(float min, float max, BitType bt);

// Symmetric per-output-channel quantization of a weight [out, k]: scales (out) from each row's min/max.
void weight_channel_scales(const float* w, int64_t out, int64_t k, BitType bt, float* scales);
// Codes of a weight [out, k] with per-row scales (zp 0).
void quantize_weight(const float* w, int64_t out, int64_t k, const float* scales, BitType bt, int8_t* codes);
// Quantize-dequantize a weight [out, k] in place with per-row scales.
void fake_quant_weight(float* w, int64_t out, int64_t k, const float* scales, BitType bt);

}  // namespace fqvit
