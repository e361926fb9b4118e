// Plain reference kernels of Swin's integer ops (docs/quantization.md section 10.8): token gathers through index
// maps (cyclic shift + window partition / reverse, patch merging's 2x2 gather), window attention with the relative
// position bias and the shift mask, and the average pool over tokens. Same conventions as kernels/int_ops.h:
// uint8 codes, int32 accumulators, int64 wider sums, every rounding as quant/fixed_multiplier.h states (half up).
// No float inside; the lowering (src/lower/lower_swin.cc) builds every table and map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fqvit/kernels/int_ops.h"
#include "fqvit/kernels/int_ops_plus.h"

namespace fqvit {

// One image's token gather: out[r][g * cols + c] = in[source[r * group + g]][c]. group 1 is a permutation of the
// rows (cyclic shift with window partition, or window reverse with the shift undone); group 4 is patch merging's
// torch.cat([x0, x1, x2, x3], -1) of 2x2 neighbours. Pure copies: the codes keep their quantizer (a merged row's
// channel k * cols + c has channel c's PTF factor, "tiled"). code_bytes: 1 for uint8 codes, 2 for the 16-bit
// residual stream (fqvit_plus "residual_bits" 16, which patch merging gathers); a row is cols * code_bytes bytes.
struct RowGatherParams {
  int64_t in_rows = 0, out_rows = 0, cols = 0, group = 1;
  int64_t code_bytes = 1;
  std::vector<int32_t> source;  // [out_rows * group], each in [0, in_rows)
  int64_t row_bytes() const { return cols * code_bytes; }
};
void gather_rows_ref(const RowGatherParams& p, const uint8_t* in, uint8_t* out);
// The dispatching form (AVX-512 64-byte row copies where the GEMM path is AVX-512 or AMX): same bytes.
void gather_rows(const RowGatherParams& p, const uint8_t* in, uint8_t* out);

// Window attention of one block, per window of N = win^2 tokens and per head:
//   A[i][j] = the q k^T logit code of attention_logits_ref (attention.score_multiplier onto attn.qact_attn1)
//   L[i][j] = clamp(zp_b + round((A - zp_a) * a_multiplier + bias[h][i N + j] / 2^s)),  s = 31 - exponent
//             (attn.qact2: the relative position bias added on the common scale of the two multipliers; bias[h] is
//             (T[index[i][j]][h] - zp_t) * mantissa of s_t / s_b, the table's codes on that scale, int64)
//   masked (shifted blocks: tokens i and j of window w in different regions, region[w][i] != region[w][j]): the
//             logit gets exactly zero weight in either softmax (its exp is 0: log2 code 2^bits, or the uint8
//             probability code zp_p), and the row maximum is taken over the unmasked logits only
//   softmax and context: attention's (the exp constants and table are built on attn.qact2's scale).
// Bounds: |A - zp_a| <= 255 and |mantissa| < 2^31, so |product| < 2^39; |bias| < 2^39 (|T - zp_t| <= 255); the
// int64 sum < 2^40. The diagonal i == j is never masked, so every row keeps at least one weight.
struct SwinAttentionParams {
  AttentionParams attention;  // tokens = N; logit_* = attn.qact_attn1's codes; exp / softmax on attn.qact2's scale
  int64_t windows = 0;        // per image (nW)
  FixedMultiplier a_multiplier;     // s_a / s_b, on the bias's exponent
  std::vector<int64_t> bias;        // [heads][N * N]
  int32_t a_zero_point = 0;
  int32_t biased_zero_point = 0, biased_lo = 0, biased_hi = 255;
  std::vector<uint8_t> region;      // [windows][N] region labels of a shifted block; empty: nothing is masked
  bool masked(int64_t window, int64_t i, int64_t j) const {
    return !region.empty() && region[static_cast<std::size_t>(window * attention.tokens + i)] !=
                                  region[static_cast<std::size_t>(window * attention.tokens + j)];
  }
  // Whether anything of window `window` is masked: a shifted grid's inner windows lie in one region and run the
  // plain softmax (same bits: nothing to mask).
  bool window_has_mask(int64_t window) const {
    if (region.empty()) return false;
    const uint8_t* r = region.data() + window * attention.tokens;
    for (int64_t t = 1; t < attention.tokens; ++t) {
      if (r[t] != r[0]) return true;
    }
    return false;
  }
};
// The biased logits of head h: a [N][N] (codes of attn.qact_attn1) -> out [N][N] (codes of attn.qact2).
void swin_bias_logits_ref(const SwinAttentionParams& p, int64_t h, const uint8_t* a, uint8_t* out);
// The softmax of the N rows of window `window` (its index within the image, for the mask) from the biased logits
// [N][N]; exp_scratch holds N values.
void swin_masked_softmax_ref(const SwinAttentionParams& p, int64_t window, const uint8_t* logits,
                             int32_t* exp_scratch, uint8_t* probs);
// The plain softmax of the N rows of a window nothing masks: softmax_row_ref of int_ops.h on each row.
void swin_softmax_rows_ref(const SwinAttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs);
// The dispatching forms of the three (src/kernels/x86/swin_attention_avx512.cc): same bits.
void swin_softmax_rows(const SwinAttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs);
void swin_bias_logits(const SwinAttentionParams& p, int64_t h, const uint8_t* a, uint8_t* out);
void swin_masked_softmax(const SwinAttentionParams& p, int64_t window, const uint8_t* logits, int32_t* exp_scratch,
                         uint8_t* probs);
// Window `window` of one image, head h: qkv [N][3 * heads * head_dim] of that window, writes head h's slice of
// out [N][heads * head_dim]. The reference chain of the three functions above and attention_context_ref.
void swin_attention_head_ref(const SwinAttentionParams& p, const uint8_t* qkv, int64_t window, int64_t h,
                             AttentionScratch& scratch, uint8_t* out);
// The same with the dispatching kernels (q k^T, softmax and context of int_ops.h, the bias add and masked softmax
// above): same bits.
void swin_attention_head(const SwinAttentionParams& p, const uint8_t* qkv, int64_t window, int64_t h,
                         AttentionScratch& scratch, uint8_t* out);
// fqvit_plus: the context requantized per output channel (attention_context_channel_ref of int_ops_plus.h, attn x V
// with PTF factors folded into proj) instead of p.attention's one context multiplier. The reference chain and the
// dispatching one (same bits).
void swin_attention_head_channel_ref(const SwinAttentionParams& p, const ChannelRequantParams& context,
                                     const uint8_t* qkv, int64_t window, int64_t h, AttentionScratch& scratch,
                                     uint8_t* out);
void swin_attention_head_channel(const SwinAttentionParams& p, const ChannelRequantParams& context,
                                 const uint8_t* qkv, int64_t window, int64_t h, AttentionScratch& scratch,
                                 uint8_t* out);

// Average pool over the T tokens of one image: out[c] = clamp(zp_out + round(sum_t (q[t][c] - zp_in) * m)), with
// m = s_in / (T s_out) and the rounding of fixed_multiplier.h (half up of the exact mean; the fake-quant path
// rounds the float32 mean half to even). Bound: |sum| <= T * 255 < 2^31 for T < 2^23 (checked by the lowering).
struct TokenMeanParams {
  int64_t tokens = 0, channels = 0;
  int32_t in_zero_point = 0;
  FixedMultiplier multiplier;
  int32_t out_zero_point = 0, lo = 0, hi = 255;
};
void token_mean_ref(const TokenMeanParams& p, const uint8_t* in, uint8_t* out);
void token_mean(const TokenMeanParams& p, const uint8_t* in, uint8_t* out);  // dispatching: same bits

// The same pool onto a per-channel output quantizer (fqvit_plus: the pooled features feed the head with PTF factors
// folded into its weights): out[c] = clamp(zp_out[c] + round(sum_t (q[t][c] - zp_in) * m[c])), m[c] =
// s_in / (T s_out[c]), same sum, bound and rounding as token_mean_ref.
struct TokenMeanChannelParams {
  int64_t tokens = 0, channels = 0;
  int32_t in_zero_point = 0;
  std::vector<FixedMultiplier> multiplier;  // [C]
  std::vector<int32_t> out_zero_point;      // [C]
  int32_t lo = 0, hi = 255;
};
void token_mean_channel_ref(const TokenMeanChannelParams& p, const uint8_t* in, uint8_t* out);
void token_mean_channel(const TokenMeanChannelParams& p, const uint8_t* in, uint8_t* out);  // dispatching

}  // namespace fqvit
