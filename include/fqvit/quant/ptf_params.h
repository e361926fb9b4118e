// Power-of-Two Factor (PTF) quantization of LayerNorm inputs (the residual stream), channel = last axis.
//
// real = scale1 * 2^alpha[c] * (q - zero_point), one zero point shared by all channels, alpha[c] in 0..K (K = 3 in
// the reference; up to kPtfMaxK, with optional per-channel zero points, in the fqvit_plus extensions). The
// integer LayerNorm rescales channel c to the common scale scale1 * 2^min(alpha) by a left shift of
// alpha[c] - min(alpha). Calibration (the reference's code, not its paper): scale8 = (max_all - min_all) /
// (hi - lo) >= FLT_EPSILON, scale1 = scale8 / 2^K, zero_point = clamp(lo - round(min_all / scale8), lo, hi), and
// alpha[c] minimizes the channel's quantization MSE on the last calibration batch (ties to the smaller alpha).
#pragma once

#include <cstdint>
#include <vector>

#include "fqvit/quant/qparams.h"

namespace fqvit {

constexpr int kPtfMaxAlpha = 3;  // K in the paper: factors 1, 2, 4, 8
// The largest K of the adaptive-K extension (docs/quantization.md 11.1): a 16-bit code shifted left by up to 10
// stays below 2^26, so its square (< 2^52) summed over up to 2^11 channels fits int64 in the integer LayerNorm.
constexpr int kPtfMaxK = 10;

struct PtfParams {
  BitType bit_type = kUint8;
  float scale1 = 1.0f;               // the finest channel scale, scale8 / 2^K
  int32_t zero_point = 0;
  std::vector<uint8_t> alpha;        // per channel, 0..K
  // Optional per-channel zero points (extension "ptf_zero_point": "channel"): when not empty, channel c uses
  // zero_points[c] instead of zero_point. The integer LayerNorm still sees integers: (q - zp_c) << alpha_c.
  std::vector<int32_t> zero_points;

  int32_t channel_zero_point(int64_t c) const {
    return zero_points.empty() ? zero_point : zero_points[static_cast<size_t>(c)];
  }

  // scale1 * 2^alpha[c] in float32, exactly as the reference computes it.
  float channel_scale(int64_t c) const;
  std::vector<float> channel_scales() const;
};

}  // namespace fqvit
