// The reference's integer LayerNorm (QIntLayerNorm, mode "int"), emulated in float32 exactly as it does.
//
// Input x [rows, C] was fake-quantized per channel with scales in_scale[c] (PTF: s1 * 2^alpha[c]; a per-tensor
// quantizer gives one scale for all). With s_min = min_c in_scale[c]:
//   x_q = round(x / in_scale[c]) * round(in_scale[c] / s_min)        (integers on the common scale s_min)
//   mean = (sum x_q / C) * s_min,  std = s_min / C * sqrt(C * sum x_q^2 - (sum x_q)^2)       (no epsilon)
//   A_c = (s_min / std) * gamma_c / s_out,  N = clamp(7 - floor(log2 |A_c|), 0, 31),
//   M = clamp(floor(|A_c| 2^N), 0, 255),  B_c = round((beta_c - mean / std * gamma_c) / s_out * 2^N)
//   y = round((sign(A_c) M x_q + B_c) / 2^N) * s_out
// Reductions follow PyTorch's float32 order (torch_sum). A constant row gives std = 0 and NaN, as the reference.
#pragma once

#include <cstdint>

namespace fqvit {

// in_scale has `in_scales` entries: 1 (per tensor) or C, or C / k for a k-fold concatenation (Swin patch merging
// tiles the previous PTF scales 4 times); entry c % in_scales is used for channel c.
void int_layer_norm_reference(const float* x, int64_t rows, int64_t channels, const float* in_scale,
                              int64_t in_scales, float out_scale, const float* gamma, const float* beta, float* y);

}  // namespace fqvit

namespace fqvit {

// The integer LayerNorm of the fqvit_plus residual stream (docs/quantization.md 11.3), for inputs the reference's
// float32 sums cannot hold exactly (int16 codes, K up to kPtfMaxK): x_q as above, in int64; S1 and S2 exact int64
// sums (|x_q| < 2^26, so x_q^2 < 2^52 and C <= 2^11 channels fit); C * S2 - S1^2 in 128 bits; std in double (the
// executor's integer square root replaces it). The multiplier is 16-bit: N = clamp(15 - floor(log2 |A|), 0, 40),
// M = floor(|A| 2^N) < 2^16, B = round_half_even(... * 2^N); y = ((sign M x_q + B) + 2^(N-1)) >> N, an arithmetic
// shift rounding half up, times s_out. A constant row (std = 0) gives y = round(beta / s_out) * s_out.
// out_scale has `out_scales` entries: 1, or C when the output quantizer has per-channel factors (extension
// "channel_inputs" on LayerNorm outputs: they fold into A_c and B_c for free).
void int_layer_norm_wide(const float* x, int64_t rows, int64_t channels, const float* in_scale, int64_t in_scales,
                         const float* out_scale, int64_t out_scales, const float* gamma, const float* beta, float* y);

}  // namespace fqvit
