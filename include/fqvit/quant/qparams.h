// Uniform affine quantization: the quantization equation lives on the type (library fqvit_quant_types, no float
// emulation kernels: an integer library can link it).
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

// The quantization equation, written once: the code of x on the grid (scale, zero_point, [lo, hi]) as a float,
//   q = clamp(round_half_even(x / scale + zero_point), lo, hi)
// with a true float32 division and a float32 add, as the reference. NaN rule (the only one): NaN stays NaN, as
// torch.clamp keeps it; +-inf clamp to hi / lo.
inline float quantize_code(float x, float scale, float zero_point, float lo, float hi) {
  float q = round_half_even(x / scale + zero_point);
  q = q < lo ? lo : q;  // comparisons with NaN are false: NaN passes through
  q = q > hi ? hi : q;
  return q;
}
// x' = (q - zero_point) * scale, the float32 quantize-dequantize of the reference.
inline float fake_quant_value(float x, float scale, float zero_point, float lo, float hi) {
  return (quantize_code(x, scale, zero_point, lo, hi) - zero_point) * scale;
}

// Integer code of one value. An integer cannot hold NaN: a NaN input gives bt.lo() (the float path keeps NaN).
inline int32_t quantize(float x, QParams qp, BitType bt) {
  const float q = quantize_code(x, qp.scale, static_cast<float>(qp.zero_point), static_cast<float>(bt.lo()),
                                static_cast<float>(bt.hi()));
  return std::isnan(q) ? bt.lo() : static_cast<int32_t>(q);
}
inline float dequantize(int32_t q, QParams qp) {
  return static_cast<float>(q - qp.zero_point) * qp.scale;
}
inline float fake_quant(float x, QParams qp, BitType bt) {
  return fake_quant_value(x, qp.scale, static_cast<float>(qp.zero_point), static_cast<float>(bt.lo()),
                          static_cast<float>(bt.hi()));
}

// The asymmetric zero point of a range starting at `min` with `scale`: clamp(lo - round_half_even(min / scale)).
int32_t asymmetric_zero_point(float min, float scale, BitType bt);

// Per-tensor asymmetric parameters from an observed range (min <= 0 <= max is not required).
QParams activation_qparams(float min, float max, BitType bt);
// Symmetric parameters of one weight channel from its min and max.
QParams weight_qparams(float min, float max, BitType bt);

// Symmetric per-output-channel quantization of a weight [out, k]: scales (out) from each row's min/max.
void weight_channel_scales(const float* w, int64_t out, int64_t k, BitType bt, float* scales);
// Codes of a weight [out, k] with per-row scales (zp 0).
void quantize_weight(const float* w, int64_t out, int64_t k, const float* scales, BitType bt, int8_t* codes);

}  // namespace fqvit
