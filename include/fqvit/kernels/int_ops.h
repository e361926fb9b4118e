// Plain reference kernels of the integer executor's element-wise and row-wise ops (GEMMs: kernels/gemm.h). Each
// is one free function over raw pointers and a params struct the lowering (src/lower/) builds; no float inside.
// Codes are uint8 (any bit-width 2..8 lives in [lo, hi] of a uint8); accumulators are int32, wider sums int64.
// Every requantization rounds as quant/fixed_multiplier.h states: half up (toward +infinity) of the exact value.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/quant/fixed_multiplier.h"

namespace fqvit {

// out = clamp(zero_point + round((x - x_zero_point) * multiplier)) for one per-tensor code -> code rescale.
struct RescaleParams {
  int32_t in_zero_point = 0;
  FixedMultiplier multiplier;
  int32_t out_zero_point = 0, lo = 0, hi = 255;
};
void rescale_codes_ref(const RescaleParams& p, const uint8_t* x, int64_t n, uint8_t* out);

// Integer accumulators [rows][n] -> codes: out = clamp(zp + round(((acc << gain_shift) + bias[j]) * m[j])).
// Used by the patch embedding, whose input zero point is not an integer (unquantized ViT input, folded with
// 2^gain_shift extra precision). Bound: |acc| << gain_shift and the bias stay below 2^31 (checked by the lowering).
struct AccRequantParams {
  int32_t gain_shift = 0;
  std::vector<int32_t> bias;                // [n]
  std::vector<FixedMultiplier> multiplier;  // [n]
  int32_t zero_point = 0, lo = 0, hi = 255;
};
void requantize_accumulators_ref(const AccRequantParams& p, const int32_t* acc, int64_t rows, int64_t n,
                                 uint8_t* out);

// Residual add onto a per-channel (PTF) output quantizer:
//   out[c] = clamp(zp_out + round((a[c] - zp_a) * ma[c] + (b[c] - zp_b) * mb[c]))
// ma[c] and mb[c] share one exponent, so the sum is rounded once (exact int64: |code - zp| <= 255,
// |mantissa| < 2^31, so each product < 2^39 and the sum < 2^40).
struct ResidualAddParams {
  int64_t channels = 0;
  int32_t a_zero_point = 0, b_zero_point = 0;
  std::vector<FixedMultiplier> a_multiplier, b_multiplier;  // [channels], equal exponents channel by channel
  int32_t out_zero_point = 0, lo = 0, hi = 255;
};
void residual_add_ref(const ResidualAddParams& p, const uint8_t* a, const uint8_t* b, int64_t rows, uint8_t* out);

// Integer LayerNorm over the last axis (the FQ-ViT reference's dyadic form, docs/quantization.md section 10):
//   x[c] = (q[c] - zp_in) << in_shift[c]                 (PTF channels on the common finest scale; 0 per tensor)
//   S1 = sum x, S2 = sum x^2 (int64), D = C * S2 - S1^2 + variance_epsilon      (= (C * std / s)^2)
//   A[c] = C * gamma[c] / sqrt(D)  (gamma = gamma_c / s_out as a FixedMultiplier), in 48-bit fixed point
//   N = clamp(multiplier_bits - 1 - floor(log2 |A|), 0, 31), M = min(floor(|A| 2^N), 2^multiplier_bits - 1)
//   B = round(2^N (beta[c] / s_out - S1 * A[c] / C)),  out = clamp(zp_out + round_even((sign(A) M x + B) / 2^N))
// The last division rounds half to EVEN, the one exception to fixed_multiplier.h's half-up rule: exact ties come
// once in 2^N (N ~ 7..15) there, and the reference (torch.round) breaks them to even; half up would differ from the
// fake-quant codes on ~0.1% of LayerNorm outputs (measured), half to even on none.
// D == 0 (a constant token, no epsilon) outputs zero_variance_code[c] = clamp(zp_out + round(beta_c / s_out)): the
// normalized value of a constant row is 0. The square root is integer (isqrt on D scaled into [2^60, 2^62)).
// Bounds: |x| <= 255 * 8, C <= 4096, so |S1| < 2^23, S2 < 2^35, D < 2^47; the fixed-point A fits int128 (< 2^121).
struct LayerNormParams {
  int64_t channels = 0;
  int32_t in_zero_point = 0;
  std::vector<uint8_t> in_shift;              // [C]: alpha_c - min alpha (PTF), all 0 for a per-tensor input
  std::vector<FixedMultiplier> gamma;         // [C]: gamma_c / s_out
  std::vector<int64_t> beta_q32;              // [C]: round(beta_c / s_out * 2^32)
  std::vector<uint8_t> zero_variance_code;    // [C]
  int64_t variance_epsilon = 0;               // eps (C / s_min)^2 for float-LN files, 0 for the reference's int LN
  int32_t multiplier_bits = 8;                // 8: the reference's M; 24: float LayerNorm files
  int32_t out_zero_point = 0, lo = 0, hi = 255;
};
constexpr int kLayerNormBetaFracBits = 32;
void layer_norm_ref(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out);

// floor(sqrt(v)) for v >= 0, exactly (integer Newton iteration).
uint64_t isqrt_u64(uint64_t v);

// I-BERT's integer exp on x <= 0 (x an integer logit difference on the logit scale S), constants built from S in
// float32 exactly as the reference: x0 = floor(-0.6931 / S) < 0, b = floor(0.96963238 / 0.35815147 / S),
// c = floor(1 / 0.35815147 / S^2), n = output shift.
//   x = max(x, n * x0); q = x / x0 (floor, both negative); r = x - q * x0 in (x0, 0];
//   exp_int = (r * (r + b) + c) << (n - q)
// Bound: r (r + b) <= 0 for r in (x0, 0] (b > -x0), so 0 < z <= c and exp_int <= c * 2^n, which the lowering keeps
// below 2^31 by its choice of n; |r (r + b)| <= |x0| b < 2^31 as well.
struct IntExpParams {
  int32_t x0 = -1, b = 0, c = 0, n = 20;
};
int32_t int_exp(int32_t x, const IntExpParams& p);

// One attention head of one image, codes in, codes out:
//   logits[t][s] = clamp(zp_l + round(sum_d (q[t][d] - zp) (k[s][d] - zp) * score_multiplier))   (head_dim^-0.5
//                  and the qkv / logit scales folded in)
//   softmax: kLog2 (Log-Int-Softmax): k = log_round(sum exp / exp), code min(k, 2^bits) (2^bits = exactly zero);
//            kUniform: code = clamp(zp_p + round(e * prob_reciprocal_q16 / (2^16 sum e)))   (< 2^62), with
//                      e = exp_table[max - code] <= 2^30 (the float softmax the reference runs, tabulated on the
//                      256 possible logit differences: no i-exp approximation)
//   context[t][d] = clamp(zp_o + round(acc * context_multiplier)),
//            kLog2: acc = sum_s (v[s][d] - zp) << (2^bits - 1 - k)   (|acc| <= T * 255 * 2^(2^bits - 1) < 2^31,
//                   T <= 257 at 4 bits: checked by the lowering)
//            kUniform: acc = sum_s (p[s] - zp_p) (v[s][d] - zp)    (|acc| <= T * 255^2)
// Score accumulators: |acc| <= head_dim * 255^2 (< 2^31 for head_dim <= 33000).
enum class SoftmaxKind { kLog2, kUniform };
struct AttentionParams {
  int64_t tokens = 0, heads = 0, head_dim = 0;
  int32_t qkv_zero_point = 0;
  FixedMultiplier score_multiplier;
  int32_t logit_zero_point = 0, logit_lo = 0, logit_hi = 255;
  SoftmaxKind softmax = SoftmaxKind::kLog2;
  IntExpParams exp;
  int32_t log2_bits = 4;                 // kLog2
  // kLog2, "lis_logits": "refined" (docs/quantization.md 11.11): i-exp runs on d 2^logit_shift at the logit scale
  // S 2^-logit_shift (exp holds that scale's constants); 0 (the reference): on d at S. 0..16, so d 2^m < 2^24.
  int32_t logit_shift = 0;
  // [256], indexed by d = max logit code - code: kLog2: int_exp(-(d << logit_shift), exp) (the i-exp of every
  // possible 8-bit logit difference, tabulated by the lowering); kUniform: round(2^30 exp(-S d)).
  std::vector<int32_t> exp_table;
  int64_t prob_reciprocal_q16 = 0;       // kUniform: round(2^16 / s_prob)
  int32_t prob_zero_point = 0, prob_lo = 0, prob_hi = 255;
  FixedMultiplier context_multiplier;
  int32_t out_zero_point = 0, lo = 0, hi = 255;
};
// Per-head scratch: logits and probability codes [T][T], exp values [T].
struct AttentionScratch {
  std::vector<uint8_t> logits, probs;
  std::vector<int32_t> exp;
};
// qkv: [T][3 * heads * head_dim] codes of one image (q; k; v, heads contiguous); writes head `h`'s slice of
// out [T][heads * head_dim].
void attention_head_ref(const AttentionParams& p, const uint8_t* qkv, int64_t h, AttentionScratch& scratch,
                        uint8_t* out);
// Query rows [t_begin, t_end) of attention_head_ref's output (rows are independent: any split of the rows gives the
// whole head's bits), so one head can be shared by several threads.
void attention_head_rows_ref(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t t_begin, int64_t t_end,
                             AttentionScratch& scratch, uint8_t* out);
// The three stages on their own (attention_head_ref runs them in order; the teacher-forced tests feed each one):
// logits [T][T] of head h, the softmax of one row of logit codes, the context of head h from probs [T][T].
void attention_logits_ref(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits);
void softmax_row_ref(const AttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs);
// The softmax of one row from its exp values (softmax_row_ref's second half): exp 0 is exactly zero weight (the
// log2 zero code, or the probability code zp_p); at least one exp must be positive.
void softmax_from_exp_ref(const AttentionParams& p, const int32_t* exp, uint8_t* probs);
void attention_context_ref(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h,
                           uint8_t* out);

// GELU on fc1 accumulators through a threshold table (docs/quantization.md section 10):
//   h = clamp(round(acc[c] * to_h[c]), -2^30, 2^30)          (the real fc1 output on the scale s_out * 2^-12;
//                                                             the rounding moved by to_h_rounding_offset[c])
//   h >= h_argmin: code = code_at_argmin + #{rise <= h};  h < h_argmin: code = code_at_argmin + #{fall >= h}
// where rise / fall hold, for each code step, the first h (right branch, increasing) or last h (left branch,
// decreasing) at which round(gelu(h * s_h) / s_out) + zp reaches it; the tables are built exactly (double GELU,
// bisection) by the lowering.
constexpr int kGeluFracBits = 12;
struct GeluParams {
  int64_t channels = 0;
  std::vector<FixedMultiplier> to_h;  // [C]
  // [C] rounding offsets of to_h (fixed_multiplier.h), carrying fc1's bias fraction of an accumulator unit; or empty
  std::vector<int32_t> to_h_rounding_offset;
  int32_t h_argmin = 0;
  int32_t code_at_argmin = 0;
  std::vector<int32_t> rise, fall;  // ascending
  // Bucket table (built from the tables by build_gelu_buckets): code(h) = code_at_argmin + #{fall >= h} +
  // #{rise <= h} is a step function; buckets of 2^bucket_shift values of h starting at bucket_origin each hold its
  // value at their first h (bucket_code) and at most one step (at bucket_step, by bucket_delta = +1 or -1), so the
  // kernel needs one lookup and one compare, no search. bucket_shift is the largest power of two below the smallest
  // gap between steps (and the table at most 2^16 entries; when that cannot hold one step per bucket, the table is
  // left empty and the kernel counts by binary search).
  int32_t bucket_origin = 0, bucket_shift = 0;
  std::vector<uint8_t> bucket_code;
  std::vector<int32_t> bucket_step;
  std::vector<int8_t> bucket_delta;
  // The same table in one int32 per bucket, for a single gather: bits 0-7 bucket_code, 8-9 bucket_delta + 1,
  // 10-31 the step's offset from the bucket's first h (2^bucket_shift when the bucket has no step). Empty when
  // bucket_shift > kGeluPackedMaxShift (the offset would not fit).
  std::vector<uint32_t> bucket_packed;
};
constexpr int kGeluPackedMaxShift = 21;
// Fills the bucket table of p from its rise / fall tables.
void build_gelu_buckets(GeluParams& p);
void gelu_ref(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out);

// Classifier scores: one head, score = code - zp; two heads (DeiT distilled, averaged at eval):
//   score = round((a - zp_a) * ma + (b - zp_b) * mb), ma / mb sharing one exponent (the mean up to a positive
//   factor, so the order and ties are those of the averaged dequantized logits).
struct ScoreParams {
  int32_t a_zero_point = 0, b_zero_point = 0;
  FixedMultiplier a_multiplier, b_multiplier;
  bool two_heads = false;
};
void class_scores_ref(const ScoreParams& p, const uint8_t* a, const uint8_t* b, int64_t n, int32_t* scores);

// Dispatching forms of the ops above (src/kernels/int_ops_dispatch.cc): the AVX-512 kernels of src/kernels/x86/
// when the GEMM path in use (gemm.h: CPUID, FQVIT_ISA or force_gemm_isa()) is avx512_vnni or amx, the reference
// kernels otherwise. Same contract, same bits.
void attention_head(const AttentionParams& p, const uint8_t* qkv, int64_t h, AttentionScratch& scratch,
                    uint8_t* out);
void attention_head_rows(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t t_begin, int64_t t_end,
                         AttentionScratch& scratch, uint8_t* out);
void attention_logits(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits);
void softmax_row(const AttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs);
void attention_context(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h, uint8_t* out);
void gelu(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out);
// fc1 and GELU in one pass over rows [0, m): the GEMM's lookup form (gemm.h) on the packed bucket table when p has
// one, else gemm_u8s8s32 into a per-thread buffer and gelu(). Same bits as gemm_u8s8s32 then gelu_ref.
void linear_gelu(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                 const GeluParams& p, uint8_t* out);
void residual_add(const ResidualAddParams& p, const uint8_t* a, const uint8_t* b, int64_t rows, uint8_t* out);
void layer_norm(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out);

}  // namespace fqvit

namespace fqvit {

// Pixels of the center crop (uint8 CHW [channels][size][size]) -> patch rows [grid^2][channels * patch^2] of input
// codes, in the layout of the patch weight [D][C][P][P]; pixel_code maps each channel's pixel value to its code.
struct PatchInputParams {
  int64_t channels = 3, image_size = 0, patch = 0;
  std::array<std::array<uint8_t, 256>, 3> pixel_code{};
};
void patch_rows_ref(const PatchInputParams& p, const uint8_t* pixels, uint8_t* rows);

// Token codes of one image: the prefix tokens' constant codes, the patch codes rescaled onto the same quantizer,
// then the position embedding's constant codes added onto the residual stream's (PTF) quantizer.
struct EmbedParams {
  int64_t prefix = 1, patches = 0, dim = 0;
  std::vector<uint8_t> prefix_codes;  // [prefix][D]
  RescaleParams patch_to_embed;
  std::vector<uint8_t> pos_codes;     // [prefix + patches][D]
  ResidualAddParams add_pos;
};
void embed_tokens_ref(const EmbedParams& p, const uint8_t* patch_codes, uint8_t* tokens);

}  // namespace fqvit
