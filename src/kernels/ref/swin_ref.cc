// Swin's integer ops (include/fqvit/kernels/swin_ops.h states each one and its bounds).
#include <cassert>
#include <cstddef>
#include <cstring>

#include "fqvit/kernels/int_ops_plus.h"
#include "fqvit/kernels/swin_ops.h"
#include "kernels/swin_chain.h"

namespace fqvit {
namespace {

constexpr int32_t clamp_code(int64_t v, int32_t lo, int32_t hi) {
  return static_cast<int32_t>(v < lo ? lo : (v > hi ? hi : v));
}

}  // namespace

void gather_rows_ref(const RowGatherParams& p, const uint8_t* in, uint8_t* out) {
  const auto cols = static_cast<std::size_t>(p.row_bytes());
  for (int64_t r = 0; r < p.out_rows * p.group; ++r) {
    const int32_t src = p.source[static_cast<std::size_t>(r)];
    assert(src >= 0 && src < p.in_rows);
    std::memcpy(out + static_cast<std::size_t>(r) * cols, in + static_cast<std::size_t>(src) * cols, cols);
  }
}

void swin_bias_logits_ref(const SwinAttentionParams& p, int64_t h, const uint8_t* a, uint8_t* out) {
  const int64_t square = p.attention.tokens * p.attention.tokens;
  const int64_t* bias = p.bias.data() + h * square;
  const int32_t s = p.a_multiplier.right_shift();
  assert(p.a_multiplier.valid());
  for (int64_t ij = 0; ij < square; ++ij) {
    // |(A - zp_a) * mantissa| < 2^39, |bias| < 2^39: the exact int64 sum is rounded once, half up.
    const int64_t sum = static_cast<int64_t>(int32_t{a[ij]} - p.a_zero_point) * p.a_multiplier.mantissa_q31 + bias[ij];
    const int64_t v = ((sum + (int64_t{1} << (s - 1))) >> s) + p.biased_zero_point;
    out[ij] = static_cast<uint8_t>(clamp_code(v, p.biased_lo, p.biased_hi));
  }
}

void swin_masked_softmax_ref(const SwinAttentionParams& p, int64_t window, const uint8_t* logits,
                             int32_t* exp_scratch, uint8_t* probs) {
  const AttentionParams& a = p.attention;
  const int64_t n = a.tokens;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* row = logits + i * n;
    int32_t row_max = 0;  // over the unmasked logits; the diagonal is one of them
    for (int64_t j = 0; j < n; ++j) {
      if (!p.masked(window, i, j) && row[j] > row_max) row_max = row[j];
    }
    for (int64_t j = 0; j < n; ++j) {
      exp_scratch[j] = p.masked(window, i, j) ? 0 : a.exp_table[static_cast<std::size_t>(row_max - row[j])];
    }
    softmax_from_exp_ref(a, exp_scratch, probs + i * n);
  }
}

void swin_softmax_rows_ref(const SwinAttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs) {
  const int64_t n = p.attention.tokens;
  for (int64_t i = 0; i < n; ++i) softmax_row_ref(p.attention, logits + i * n, exp_scratch, probs + i * n);
}

void swin_attention_head_ref(const SwinAttentionParams& p, const uint8_t* qkv, int64_t window, int64_t h,
                             AttentionScratch& scratch, uint8_t* out) {
  swin_attention_chain(p, qkv, window, h, scratch, out, attention_logits_ref, swin_bias_logits_ref,
                       swin_softmax_rows_ref, swin_masked_softmax_ref, attention_context_ref);
}

void swin_attention_head_channel_ref(const SwinAttentionParams& p, const ChannelRequantParams& context,
                                     const uint8_t* qkv, int64_t window, int64_t h, AttentionScratch& scratch,
                                     uint8_t* out) {
  swin_attention_chain(p, qkv, window, h, scratch, out, attention_logits_ref, swin_bias_logits_ref,
                       swin_softmax_rows_ref, swin_masked_softmax_ref, [&](const AttentionParams& a, const uint8_t* probs, const uint8_t* v, int64_t head, uint8_t* o) {
                         attention_context_channel_ref(a, context, probs, v, head, o);
                       });
}

void token_mean_ref(const TokenMeanParams& p, const uint8_t* in, uint8_t* out) {
  for (int64_t c = 0; c < p.channels; ++c) {
    int32_t sum = 0;  // |sum| <= T * 255 < 2^31 (T < 2^23, checked by the lowering)
    for (int64_t t = 0; t < p.tokens; ++t) sum += int32_t{in[t * p.channels + c]} - p.in_zero_point;
    out[c] = static_cast<uint8_t>(requantize(sum, p.multiplier, p.out_zero_point, p.lo, p.hi));
  }
}

void token_mean_channel_ref(const TokenMeanChannelParams& p, const uint8_t* in, uint8_t* out) {
  for (int64_t c = 0; c < p.channels; ++c) {
    int32_t sum = 0;  // |sum| <= T * 255 < 2^31 (T < 2^23, checked by the lowering)
    for (int64_t t = 0; t < p.tokens; ++t) sum += int32_t{in[t * p.channels + c]} - p.in_zero_point;
    const auto cc = static_cast<std::size_t>(c);
    out[c] = static_cast<uint8_t>(requantize(sum, p.multiplier[cc], p.out_zero_point[cc], p.lo, p.hi));
  }
}

}  // namespace fqvit
