// AVX-512 (F, BW, VL, VNNI) versions of the integer executor's non-GEMM ops: same contracts and same bits as the
// reference kernels of include/fqvit/kernels/int_ops.h, run only on CPUs that have the instructions (the dispatch
// in int_ops_dispatch.cc). Plain types only in this header: it is included by files compiled without ISA flags.
#pragma once

#include <cstdint>

#include "fqvit/kernels/int_ops.h"

namespace fqvit::kernels {

// One head fused: each row of logits goes straight into its softmax (the T x T logits are never stored).
void attention_head_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, AttentionScratch& scratch,
                           uint8_t* out);
// Query rows [t_begin, t_end) of head h, four rows at a time (attention_rows_avx512.cc); needs head_dim <= 4096.
bool attention_rows_avx512_supports(const AttentionParams& p);
void attention_rows_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t t_begin, int64_t t_end,
                           uint8_t* out);
void attention_logits_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits);
void softmax_row_avx512(const AttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs);
void attention_context_avx512(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h,
                              uint8_t* out);

void gelu_avx512(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out);
void residual_add_avx512(const ResidualAddParams& p, const uint8_t* a, const uint8_t* b, int64_t rows, uint8_t* out);
// The fast form (layer_norm_avx512.cc); rows outside its bounds go through the general split form
// (layer_norm_split_avx512.cc), which is also exact on every row and slower. `fast_rows` (tests, benchmarks):
// how many rows the fast form computed.
void layer_norm_avx512(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out,
                       int64_t* fast_rows = nullptr);
// floor(sqrt(v[i])) for 16 values in [2^60, 2^62) (the fast form's row square roots; exposed for its test).
void isqrt_2_60_x16_avx512(const uint64_t* v, uint64_t* root);
void layer_norm_split_avx512(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out);

}  // namespace fqvit::kernels
