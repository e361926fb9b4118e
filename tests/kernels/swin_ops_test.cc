// Swin's reference kernels (kernels/swin_ops.h) against closed forms, adversarial codes at their extremes, and the
// dispatching window attention against the reference chain bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/swin_ops.h"
#include "fqvit/lower/lower.h"
#include "lower/lower_ops.h"
#include "lower/lower_swin.h"

namespace fqvit {
namespace {

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "test", "multiplier"); }

// A window attention problem: N tokens, `heads` heads of dh, log2 (bits) or uniform softmax, random bias table.
SwinAttentionParams window_problem(int64_t window, int64_t heads, int64_t dh, SoftmaxKind kind, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255);
  SwinAttentionParams p;
  AttentionParams& a = p.attention;
  const int64_t n = window * window;
  a.tokens = n, a.heads = heads, a.head_dim = dh;
  a.qkv_zero_point = u8(rng);
  a.score_multiplier = mult(1.0 / (static_cast<double>(dh) * 300));
  a.logit_zero_point = u8(rng);
  a.softmax = kind;
  const double s = 0.08;
  if (kind == SoftmaxKind::kLog2) {
    a.exp = lower::int_exp_params(s, 30);
    for (int d = 0; d < 256; ++d) a.exp_table.push_back(int_exp(-d, a.exp));
    a.log2_bits = 4;
    a.context_multiplier = mult(std::ldexp(1.0, -15) / 3);
  } else {
    for (int d = 0; d < 256; ++d) a.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-s * d), 30))));
    a.prob_reciprocal_q16 = 65536 * 255;
    a.prob_zero_point = 0;
    a.context_multiplier = mult(1.0 / 2000);
  }
  a.out_zero_point = u8(rng);
  p.windows = 4;
  p.a_zero_point = a.logit_zero_point;
  const FixedMultiplier big = mult(1.3);
  p.a_multiplier = fixed_multiplier_with_exponent(0.9, big.exponent, "test", "a");
  const FixedMultiplier mt = fixed_multiplier_with_exponent(1.3, big.exponent, "test", "t");
  for (int64_t i = 0; i < heads * n * n; ++i) p.bias.push_back(int64_t{u8(rng) - 128} * mt.mantissa_q31);
  p.biased_zero_point = u8(rng);
  return p;
}

// The closed form of the biased logit: (A - zp_a) m_a + bias is an integer below 2^41, exact in double, and so is
// its quotient by 2^s; floor(v + 1/2) is the half-up rounding.
int closed_form_biased(const SwinAttentionParams& p, int a, int64_t bias) {
  const double num = static_cast<double>(a - p.a_zero_point) * p.a_multiplier.mantissa_q31 + static_cast<double>(bias);
  const double v = std::floor(std::ldexp(num, -p.a_multiplier.right_shift()) + 0.5) + p.biased_zero_point;
  return static_cast<int>(std::clamp(v, static_cast<double>(p.biased_lo), static_cast<double>(p.biased_hi)));
}

TEST(SwinBiasLogits, ClosedFormOnRandomAndExtremeCodes) {
  std::mt19937 rng(7);
  SwinAttentionParams p = window_problem(4, 2, 8, SoftmaxKind::kLog2, rng);
  const int64_t n = p.attention.tokens, square = n * n;
  std::uniform_int_distribution<int> u8(0, 255);
  for (int round = 0; round < 3; ++round) {
    std::vector<uint8_t> a(static_cast<size_t>(square)), out(static_cast<size_t>(square));
    for (auto& v : a) v = static_cast<uint8_t>(round == 0 ? u8(rng) : (round == 1 ? 0 : 255));
    if (round > 0) {
      // Adversarial: zero points at the far end, table terms at +-255 times the largest mantissa (< 2^39).
      p.a_zero_point = round == 1 ? 255 : 0;
      for (size_t i = 0; i < p.bias.size(); ++i) p.bias[i] = (round == 1 ? -255 : 255) * int64_t{2147483647};
      p.a_multiplier.mantissa_q31 = 2147483647;
    }
    for (int64_t h = 0; h < p.attention.heads; ++h) {
      swin_bias_logits_ref(p, h, a.data(), out.data());
      for (int64_t ij = 0; ij < square; ++ij) {
        ASSERT_EQ(out[static_cast<size_t>(ij)],
                  closed_form_biased(p, a[static_cast<size_t>(ij)], p.bias[static_cast<size_t>(h * square + ij)]))
            << "round " << round << " head " << h << " at " << ij;
      }
    }
  }
  // Small multipliers, no clamping: the result moves with the table term.
  p.a_multiplier = fixed_multiplier_with_exponent(0.5, 0, "test", "a");
  p.a_zero_point = 100, p.biased_zero_point = 100;
  const uint8_t a[1] = {110};
  const int64_t bias = int64_t{3} << 30;  // +1.5 on the scale 2^-31
  p.attention.tokens = 1;
  p.bias = {bias};
  uint8_t out[1];
  swin_bias_logits_ref(p, 0, a, out);
  EXPECT_EQ(out[0], 100 + 5 + 2);  // 10 * 0.5 + 1.5 = 6.5 -> 7 (half up)
}

TEST(SwinMaskedSoftmax, MaskedLogitsGetExactlyZeroWeightAndTheRestIsTheirOwnSoftmax) {
  for (const SoftmaxKind kind : {SoftmaxKind::kLog2, SoftmaxKind::kUniform}) {
    std::mt19937 rng(11);
    SwinAttentionParams p = window_problem(4, 1, 8, kind, rng);
    const int64_t n = p.attention.tokens;
    p.region = lower::swin_regions(8, 4, 2);  // 4 windows of a shifted 8x8 grid
    std::uniform_int_distribution<int> u8(0, 255);
    for (int64_t w = 0; w < p.windows; ++w) {
      std::vector<uint8_t> logits(static_cast<size_t>(n * n)), probs(logits.size());
      // Masked logits at the top of the range: they must neither win the maximum nor take weight.
      for (int64_t i = 0; i < n * n; ++i) logits[static_cast<size_t>(i)] = p.masked(w, i / n, i % n) ? 255 : static_cast<uint8_t>(u8(rng) / 2);
      std::vector<int32_t> exp(static_cast<size_t>(n));
      swin_masked_softmax_ref(p, w, logits.data(), exp.data(), probs.data());
      const int zero = kind == SoftmaxKind::kLog2 ? (1 << p.attention.log2_bits) : p.attention.prob_zero_point;
      for (int64_t i = 0; i < n; ++i) {
        // The unmasked logits of row i on their own, through the plain softmax.
        std::vector<uint8_t> kept, kept_probs;
        for (int64_t j = 0; j < n; ++j) {
          if (!p.masked(w, i, j)) kept.push_back(logits[static_cast<size_t>(i * n + j)]);
        }
        AttentionParams sub = p.attention;
        sub.tokens = static_cast<int64_t>(kept.size());
        kept_probs.resize(kept.size());
        std::vector<int32_t> sub_exp(kept.size());
        softmax_row_ref(sub, kept.data(), sub_exp.data(), kept_probs.data());
        size_t next = 0;
        for (int64_t j = 0; j < n; ++j) {
          const uint8_t got = probs[static_cast<size_t>(i * n + j)];
          if (p.masked(w, i, j)) {
            EXPECT_EQ(got, zero) << "window " << w << " row " << i << " col " << j;
          } else {
            EXPECT_EQ(got, kept_probs[next++]) << "window " << w << " row " << i << " col " << j;
          }
        }
      }
    }
  }
}

// Log2 worst case of a window: 144 tokens (window 12, Swin-B 384), all weights 1 on v = 255, zp 0:
// 144 * 255 * 2^15 < 2^31 in the attn x V accumulator.
TEST(SwinAttention, AccumulatorWorstCaseOfTheLargestWindow) {
  std::mt19937 rng(3);
  SwinAttentionParams p = window_problem(12, 1, 32, SoftmaxKind::kLog2, rng);
  const int64_t n = p.attention.tokens, dh = p.attention.head_dim;
  p.attention.qkv_zero_point = 0, p.attention.out_zero_point = 0;
  p.attention.context_multiplier = mult(std::ldexp(1.0, -15) / 256);
  std::vector<uint8_t> probs(static_cast<size_t>(n * n), 0), qkv(static_cast<size_t>(n * 3 * dh), 255),
      out(static_cast<size_t>(n * dh));
  attention_context_ref(p.attention, probs.data(), qkv.data(), 0, out.data());
  const int64_t acc = n * 255 * (int64_t{1} << 15);
  ASSERT_LT(acc, int64_t{1} << 31);
  for (uint8_t v : out) EXPECT_EQ(v, std::min<int64_t>(255, (acc / 256 + (int64_t{1} << 14)) >> 15));
}

TEST(SwinAttention, DispatchEqualsReferenceOnShiftedAndPlainWindows) {
  for (const SoftmaxKind kind : {SoftmaxKind::kLog2, SoftmaxKind::kUniform}) {
    for (const int64_t window : {4, 7}) {
      std::mt19937 rng(static_cast<uint32_t>(window * 10 + static_cast<int>(kind)));
      SwinAttentionParams p = window_problem(window, 3, 12, kind, rng);
      const int64_t n = p.attention.tokens, dim = 3 * 12;
      for (const bool shifted : {false, true}) {
        // Shifted: a 3 x 3 grid of windows, the inner ones unmasked, the last row and column masked.
        p.region = shifted ? lower::swin_regions(3 * window, window, window / 2) : std::vector<uint8_t>{};
        p.windows = shifted ? 9 : 4;
        if (shifted) {
          EXPECT_FALSE(p.window_has_mask(0));
          EXPECT_TRUE(p.window_has_mask(8));
        }
        std::uniform_int_distribution<int> u8(0, 255);
        std::vector<uint8_t> qkv(static_cast<size_t>(n * 3 * dim));
        for (auto& v : qkv) v = static_cast<uint8_t>(u8(rng));
        for (int64_t w = 0; w < p.windows; ++w) {
          std::vector<uint8_t> want(static_cast<size_t>(n * dim)), got(want.size());
          AttentionScratch s1, s2;
          for (int64_t h = 0; h < 3; ++h) {
            swin_attention_head_ref(p, qkv.data(), w, h, s1, want.data());
            swin_attention_head(p, qkv.data(), w, h, s2, got.data());
          }
          EXPECT_EQ(got, want) << "window " << window << " shifted " << shifted << " w " << w;
        }
      }
    }
  }
}

// Average pool: the half-up rounding of the exact mean, and the extremes of the int32 sum (3136 tokens of Swin-T's
// first stage, far more than the last stage's 49).
TEST(TokenMean, ClosedFormAndExtremes) {
  TokenMeanParams p;
  p.tokens = 4, p.channels = 2, p.in_zero_point = 10;
  p.multiplier = mult(1.0 / 4);  // s_in = s_out
  p.out_zero_point = 20;
  const uint8_t in[8] = {10, 0, 11, 0, 12, 0, 13, 255};  // channel 0: 0 + 1 + 2 + 3 = 6 -> 1.5 -> 2
  uint8_t out[2];
  token_mean_ref(p, in, out);
  EXPECT_EQ(out[0], 20 + 2);
  EXPECT_EQ(out[1], std::clamp(20 + static_cast<int>(std::floor((-30.0 + 245.0) / 4 + 0.5)), 0, 255));  // 53.75 -> 54
  for (const int zp : {0, 255}) {
    TokenMeanParams q;
    q.tokens = 3136, q.channels = 1, q.in_zero_point = zp;
    q.multiplier = mult(1.0 / 3136.0);
    q.out_zero_point = 128;
    std::vector<uint8_t> codes(3136, static_cast<uint8_t>(255 - zp));
    uint8_t o = 0;
    token_mean_ref(q, codes.data(), &o);
    EXPECT_EQ(o, zp == 0 ? 255 : 0) << "sum " << (255 - 2 * zp) * 3136;  // +-255 on the output scale, clamped
    q.multiplier = mult(1.0 / (3136.0 * 4));
    token_mean_ref(q, codes.data(), &o);
    EXPECT_EQ(o, zp == 0 ? 128 + 64 : 128 - 64);  // +-63.75 -> 64 / -64 (half up: -63.75 -> -64)
  }
}

}  // namespace
}  // namespace fqvit
