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
// v_pairs [(T + 1) / 2][width]: (v[2i][d] - zp) | (v[2i + 1][d] - zp) << 16 of head h (int16 pairs for vpdpwssd),
// zero past T and past head_dim (width >= head_dim, a multiple of 16; attention_avx512.cc).
void pack_v_pairs_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t width, int32_t* v_pairs);
void attention_logits_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits);
// One row of logit codes to probability codes, the gather form (softmax_avx512.cc). exp_scratch: [T].
void softmax_row_avx512(const AttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs);
// The gather-free softmax (softmax_avx512vbmi.cc; needs cpu_has_avx512_vbmi()): the exp table as byte planes for
// vpermi2b, built once per AttentionParams and task by prepare_softmax_avx512vbmi (about 2 KB of stores: too much
// to redo per row, so the per-row stage API above keeps the gather form).
struct SoftmaxLut {
  alignas(64) uint8_t plane[4][256];  // plane[b][d] = byte b of exp_table[d]
  alignas(64) int32_t coarse[16];     // exp_table[16 i]
  alignas(64) int32_t transposed[16][16];  // [x][i] = exp_table[16 i + x]
  bool monotone = false;              // exp_table non-increasing and >= 0 (the Log-Int-Softmax form needs it)
};
void prepare_softmax_avx512vbmi(const AttentionParams& p, SoftmaxLut& lut);
bool softmax_vbmi_supports(const AttentionParams& p, const SoftmaxLut& lut);
// Rows [0, rows) of logit codes (rows <= kMaxSoftmaxRows, row stride logit_ld) into probability codes (stride
// prob_ld), each row the bits of softmax_row_ref; e_scratch: 64-byte aligned, rows * round_up(T, 64) int32 (uniform).
constexpr int kMaxSoftmaxRows = 4;
void softmax_rows_avx512vbmi(const AttentionParams& p, const SoftmaxLut& lut, const uint8_t* logits, int64_t logit_ld,
                             int rows, int32_t* e_scratch, uint8_t* probs, int64_t prob_ld);
// The same rows straight into the int16 weights of attn x V (attention_rows_avx512.cc's layout): weight_ld int16 per
// row (a multiple of 64, >= T; zero past T), and per row the token whose 2^15 weight went in as -2^15, or -1.
void softmax_weights_avx512vbmi(const AttentionParams& p, const SoftmaxLut& lut, const uint8_t* logits,
                                int64_t logit_ld, int rows, int32_t* e_scratch, int16_t* weights, int64_t weight_ld,
                                int64_t* wrapped);
// The codes of one row from its exps and their sum (softmax_from_exp_ref): softmax_row_avx512's second half, for
// Swin's masked rows (swin_attention_avx512.cc); the reference outside its bounds.
void softmax_from_exp_avx512(const AttentionParams& p, const int32_t* exp, int64_t sum, uint8_t* probs);
void attention_context_avx512(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h,
                              uint8_t* out);

void gelu_avx512(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out);
void residual_add_avx512(const ResidualAddParams& p, const uint8_t* a, const uint8_t* b, int64_t rows, uint8_t* out);
// The fast form (layer_norm_avx512.cc); rows outside its bounds go through the general split form
// (layer_norm_split_avx512.cc), which is also exact on every row and slower. `fast_rows` (tests, benchmarks):
// how many rows the fast form computed.
void layer_norm_avx512(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out,
                       int64_t* fast_rows = nullptr);
// floor(sqrt(v[i])) for 16 values in [2^60, 2^62) (the fast form's row square roots; also the wide LayerNorm's).
void isqrt_2_60_x16_avx512(const uint64_t* v, uint64_t* root);
void layer_norm_split_avx512(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out);

}  // namespace fqvit::kernels
