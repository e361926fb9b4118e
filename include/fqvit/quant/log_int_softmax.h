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

// Log2 codes of softmax(x) per row: x [rows, cols] are the logits (float; the reference divides them by S, so they
// need not be exact multiples of S). codes[i] in 0..2^b - 1, or lis_zero_code(b).
void lis_codes(const float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p, uint8_t* codes);

// Overwrites x [rows, cols] with the dequantized LIS attention weights 2^-code (0 for the zero code).
void lis_fake_quant(float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p);

}  // namespace fqvit
