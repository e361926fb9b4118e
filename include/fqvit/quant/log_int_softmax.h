// Log-Int-Softmax (LIS): softmax of logits quantized with scale S, emitted as a log2 code.
//
// Attention weight = 2^-k with k = log_round(sum_j e_j / e_i), e = i-exp of the integer logits (I-BERT, second-order
// polynomial on [-ln2, 0] and a shift by the quotient). Codes k in 0..2^b-1 are the b-bit values; k >= 2^b means
// "exactly zero", a 2^b + 1st state (code kLisZero here). See docs/quantization.md for the derivation.
//
// lis_fake_quant reproduces the reference's float32 emulation (QIntSoftmax.int_softmax + log_round), including its
// reductions in PyTorch's order. `exp_shift` is the i-exp output shift n: the reference uses 30 (its int32 products
// overflow; float32 emulation hides it), 20 keeps every intermediate inside int32 at a small accuracy cost.
#pragma once

#include <cstdint>

#include "fqvit/quant/lis_params.h"

namespace fqvit {

// The largest shift m the refined i-exp may apply to the logit codes: i-exp's constant c = floor(1 / (a S^2)) on the
// scale S 2^-m stays below kLisRefinedMaxC, so c 2^16 < 2^31 (the i-exp shift n >= 16 that 4-bit LIS needs fits
// int32), and m <= kLisMaxLogitShift keeps every refined logit distance (d <= 255) below 2^24.
constexpr int32_t kLisRefinedMaxC = int32_t{1} << 15;
constexpr int kLisMaxLogitShift = 16;

// i-exp's constant c = floor((1 / S^2) (1 / a)) in float32, as the reference computes it.
int32_t lis_exp_constant(float logit_scale);

// m of "lis_logits": "refined": 0 without p.refine_logits; else the largest m in 0..kLisMaxLogitShift with
// lis_exp_constant(S 2^-m) < kLisRefinedMaxC (0 when S is already that fine). i-exp then runs on the exact integer
// codes q 2^m at scale S 2^-m: the same logits, and its constants b, c, x0 no longer degenerate for coarse S (at
// 4-bit logits S ~ 2 gives c = 0: every weight 0).
int lis_logit_shift(float logit_scale, const LisParams& p);

// Log2 codes of softmax(x) per row: x [rows, cols] are the logits (float; the reference divides them by S, so they
// need not be exact multiples of S; with p.refine_logits i-exp runs on S 2^-m, m = lis_logit_shift). codes[i] in 0..2^b - 1, or lis_zero_code(b).
void lis_codes(const float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p, uint8_t* codes);

// Overwrites x [rows, cols] with the dequantized LIS attention weights 2^-code (0 for the zero code).
void lis_fake_quant(float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p);

}  // namespace fqvit
