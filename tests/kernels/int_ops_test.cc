// The reference integer kernels against closed-form values, and each stated overflow bound driven by adversarial
// codes (all at the extremes, sizes at their largest in our models or at the stated limit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/kernels/int_ops.h"
#include "fqvit/lower/lower.h"
#include "lower/lower_ops.h"

namespace fqvit {
namespace {

constexpr double kLayerNormMaxLsb = 1.0;  // the dyadic 24-bit form against double LayerNorm, in output LSBs
constexpr double kGeluMaxLsb = 0.5 + 1.13 / 8192;  // rounding + |GELU'| <= 1.13 times h's half-step s_out 2^-13

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "test", "multiplier"); }

TEST(FixedMultiplierFromReal, RoundTripsAndRefusesOutOfRange) {
  for (double r : {1.0, 0.5, 0.75, 1e-9, 3.3e5, -0.125, 2.0 / 3.0}) {
    const FixedMultiplier m = mult(r);
    EXPECT_TRUE(m.valid());
    EXPECT_NEAR(std::ldexp(static_cast<double>(m.mantissa_q31), m.exponent - 31), r, std::fabs(r) * 1e-9);
    EXPECT_GE(std::abs(int64_t{m.mantissa_q31}), int64_t{1} << 30);
  }
  EXPECT_EQ(mult(0.0), FixedMultiplier{});
  EXPECT_THROW(mult(1e-12), Error);   // below 2^-32
  EXPECT_THROW(mult(4e9), Error);     // above 2^30
  EXPECT_THROW(mult(std::nan("")), Error);
  try {
    fixed_multiplier_from_real(1e-12, "model.safetensors", "blocks.0.attn.proj requantization multiplier");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors: blocks.0.attn.proj"), std::string::npos) << e.what();
  }
}

TEST(Requantize, RoundsHalfUpOfTheExactProduct) {
  const FixedMultiplier half = mult(0.5);
  EXPECT_EQ(requantize(3, half, 0, -100, 100), 2);    // 1.5 -> 2
  EXPECT_EQ(requantize(-3, half, 0, -100, 100), -1);  // -1.5 -> -1 (toward +infinity)
  EXPECT_EQ(requantize(5, half, 10, 0, 255), 13);     // 2.5 -> 3, + zero point
  EXPECT_EQ(requantize(1 << 30, half, 0, 0, 255), 255);  // clamped, not wrapped
  EXPECT_EQ(requantize(INT32_MIN, mult(0.999), 0, -300, 300), -300);
}

TEST(Isqrt, ExactFloorOnPerfectSquaresAndNeighbours) {
  for (uint64_t r : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{46340}, uint64_t{1} << 20, (uint64_t{1} << 31) - 1,
                     uint64_t{3037000499}}) {
    EXPECT_EQ(isqrt_u64(r * r), r);
    if (r > 0) {
      EXPECT_EQ(isqrt_u64(r * r - 1), r - 1);
    }
    EXPECT_EQ(isqrt_u64(r * r + 2 * r), r);  // (r + 1)^2 - 1
  }
  EXPECT_EQ(isqrt_u64((uint64_t{1} << 62) - 1), (uint64_t{1} << 31) - 1);
}

TEST(ResidualAdd, ClosedFormAndExtremes) {
  ResidualAddParams p;
  p.channels = 2;
  p.a_zero_point = 100, p.b_zero_point = 20, p.out_zero_point = 128;
  // out = (a - 100) * 0.5 + (b - 20) * 0.25, one exponent for both.
  const FixedMultiplier big = mult(0.5);
  p.a_multiplier = {big, big};
  p.b_multiplier = {fixed_multiplier_with_exponent(0.25, big.exponent, "t", "f"),
                    fixed_multiplier_with_exponent(0.25, big.exponent, "t", "f")};
  const uint8_t a[] = {110, 255, 0, 101}, b[] = {24, 255, 0, 20};
  uint8_t out[4];
  residual_add_ref(p, a, b, 2, out);
  EXPECT_EQ(out[0], 128 + 6);                 // 5 + 1
  EXPECT_EQ(out[1], 255);                     // 77.5 + 58.75 -> clamped
  EXPECT_EQ(out[2], 128 - 50 - 5);            // -50 - 5
  EXPECT_EQ(out[3], 129);                     // 0.5 -> 1 (half up, one rounding of the sum)
}

// Double-precision LayerNorm of integer rows on one scale, as the codes the kernel should give.
std::vector<int> double_layer_norm(const std::vector<int>& x, double gamma_q, double beta_q, int zp) {
  double mean = 0, var = 0;
  for (int v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (int v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  std::vector<int> out;
  for (int v : x) {
    const double y = var > 0 ? gamma_q * (v - mean) / std::sqrt(var) + beta_q : beta_q;
    out.push_back(static_cast<int>(std::clamp(std::nearbyint(y) + zp, 0.0, 255.0)));
  }
  return out;
}

LayerNormParams layer_norm(int64_t c, int32_t zp_in, uint8_t shift, double gamma_q, double beta_q, int bits) {
  LayerNormParams p;
  p.channels = c;
  p.in_zero_point = zp_in;
  p.in_shift.assign(static_cast<size_t>(c), shift);
  p.gamma.assign(static_cast<size_t>(c), mult(gamma_q));
  p.beta_q32.assign(static_cast<size_t>(c), std::llround(std::ldexp(beta_q, 32)));
  p.zero_variance_code.assign(static_cast<size_t>(c), static_cast<uint8_t>(std::llround(beta_q) + 128));
  p.multiplier_bits = bits;
  p.out_zero_point = 128;
  return p;
}

TEST(LayerNorm, ConstantTokenGivesBetaNotNan) {
  const LayerNormParams p = layer_norm(192, 77, 2, 30.0, -7.0, 8);
  std::vector<uint8_t> q(192, 200), out(192);
  layer_norm_ref(p, q.data(), 1, out.data());
  for (uint8_t v : out) EXPECT_EQ(v, 128 - 7);
}

// Extremes: C = 4096 channels alternating between codes 0 and 255 at the largest PTF shift (3), the widest |x| and
// the largest S2; and one outlier channel among constant ones (the smallest non-zero variance).
TEST(LayerNorm, AdversarialRowsMatchDoubleWithinOneLsb) {
  for (const int64_t c : {int64_t{192}, int64_t{768}, int64_t{4096}}) {
    const LayerNormParams p = layer_norm(c, 0, 3, 20.0, 3.0, 24);
    std::vector<uint8_t> alt(static_cast<size_t>(c)), spike(static_cast<size_t>(c), 255), out(static_cast<size_t>(c));
    for (int64_t i = 0; i < c; ++i) alt[static_cast<size_t>(i)] = i % 2 ? 255 : 0;
    spike[5] = 254;
    for (const auto* row : {&alt, &spike}) {
      layer_norm_ref(p, row->data(), 1, out.data());
      std::vector<int> x;
      for (uint8_t v : *row) x.push_back(int{v} * 8);
      const std::vector<int> want = double_layer_norm(x, 20.0, 3.0, 128);
      for (int64_t i = 0; i < c; ++i) {
        EXPECT_LE(std::abs(int{out[static_cast<size_t>(i)]} - want[static_cast<size_t>(i)]), kLayerNormMaxLsb)
            << "C " << c << " channel " << i;
      }
    }
  }
}

TEST(LayerNorm, RandomRowsMatchDoubleWithinOneLsb) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> u8(0, 255);
  const LayerNormParams p = layer_norm(192, 131, 0, 25.0, -2.5, 24);
  std::vector<uint8_t> q(192), out(192);
  int64_t differ = 0;
  for (int r = 0; r < 200; ++r) {
    for (auto& v : q) v = static_cast<uint8_t>(u8(rng));
    layer_norm_ref(p, q.data(), 1, out.data());
    std::vector<int> x;
    for (uint8_t v : q) x.push_back(int{v} - 131);
    const std::vector<int> want = double_layer_norm(x, 25.0, -2.5, 128);
    for (size_t i = 0; i < q.size(); ++i) {
      EXPECT_LE(std::abs(int{out[i]} - want[i]), kLayerNormMaxLsb);
      differ += out[i] != want[i];
    }
  }
  EXPECT_LT(differ, 200 * 192 / 100);  // the 24-bit M is essentially exact: < 1% of codes at a rounding boundary
}

IntExpParams exp_params(double s, int n) { return lower::int_exp_params(s, n); }

TEST(IntExp, ClosedFormAndInt32Bound) {
  for (const double s : {0.2, 0.05, 0.0125}) {
    const IntExpParams p = exp_params(s, 30);
    ASSERT_LT(int64_t{p.c} << p.n, int64_t{1} << 31) << "the shift is chosen to fit int32";
    EXPECT_EQ(int_exp(0, p), p.c << p.n);  // exp(0) = 1 on the scale c 2^n
    // I-BERT's closed form in int64 (x = -ln2 q + r, z = r (r + b) + c, z 2^(n - q)), on the whole logit range.
    for (int64_t x = 0; x >= -255; --x) {
      const int64_t xc = std::max<int64_t>(x, int64_t{p.n} * p.x0);
      const int64_t q = xc / p.x0, r = xc - q * p.x0, z = r * (r + p.b) + p.c;
      ASSERT_GT(z, 0);
      ASSERT_LE(z, p.c);
      EXPECT_EQ(int64_t{int_exp(static_cast<int32_t>(x), p)}, z << (p.n - q)) << "s " << s << " x " << x;
    }
    EXPECT_EQ(int_exp(INT32_MIN / 2, p), int_exp(p.n * p.x0, p));  // clamped below n x0
  }
}

AttentionParams lis_attention(int64_t tokens, int64_t dh) {
  AttentionParams a;
  a.tokens = tokens, a.heads = 1, a.head_dim = dh;
  a.score_multiplier = mult(1.0 / 64);
  a.logit_zero_point = 128;
  a.exp = exp_params(0.1, 30);
  for (int d = 0; d < 256; ++d) a.exp_table.push_back(int_exp(-d, a.exp));  // as the lowering tabulates it
  a.log2_bits = 4;
  a.context_multiplier = mult(std::ldexp(1.0, -15) / 8);  // weights 2^-k on 2^-15, then / 8
  a.out_zero_point = 0;
  return a;
}

TEST(Attention, LogIntSoftmaxOfEqualLogitsIsUniform) {
  // T equal logits: v = T for every token, k = log_round(T).
  for (const int64_t t : {int64_t{2}, int64_t{3}, int64_t{4}, int64_t{6}, int64_t{197}}) {
    AttentionParams a = lis_attention(t, 4);
    std::vector<uint8_t> logits(static_cast<size_t>(t), 140), probs(static_cast<size_t>(t));
    std::vector<int32_t> exp(static_cast<size_t>(t));
    softmax_row_ref(a, logits.data(), exp.data(), probs.data());
    const int k = static_cast<int>(std::floor(std::log2(static_cast<double>(t))));
    const int want = (t - (1 << k)) * 2 >= (1 << k) ? k + 1 : k;
    for (uint8_t v : probs) EXPECT_EQ(v, want) << "T " << t;
  }
  // One logit far above the rest: it takes weight 1 (k = 0), the others exactly zero (code 16).
  AttentionParams a = lis_attention(5, 4);
  const uint8_t logits[] = {255, 0, 0, 0, 0};
  uint8_t probs[5];
  int32_t exp[5];
  softmax_row_ref(a, logits, exp, probs);
  EXPECT_EQ(probs[0], 0);
  for (int i = 1; i < 5; ++i) EXPECT_EQ(probs[i], 16);
}

// attn x V worst case at 4 bits: T = 257 tokens (the lowering's limit), every weight 1 (code 0) on v = 255, zp 0:
// acc = 257 * 255 * 2^15 = 2147450880 < 2^31. Logits: head_dim 64, all q = k = 255 with zp 0.
TEST(Attention, AccumulatorWorstCases) {
  const int64_t t = 257, dh = 64;
  AttentionParams a = lis_attention(t, dh);
  std::vector<uint8_t> probs(static_cast<size_t>(t * t), 0), qkv(static_cast<size_t>(t * 3 * dh), 255),
      out(static_cast<size_t>(t * dh)), logits(static_cast<size_t>(t * t));
  attention_context_ref(a, probs.data(), qkv.data(), 0, out.data());
  const int64_t acc = t * 255 * (int64_t{1} << 15);
  ASSERT_LT(acc, int64_t{1} << 31);
  const int64_t want = std::min<int64_t>(255, (acc / 8 + (int64_t{1} << 14)) >> 15);
  for (uint8_t v : out) EXPECT_EQ(v, want);
  a.score_multiplier = mult(1.0 / 65536);
  attention_logits_ref(a, qkv.data(), 0, logits.data());
  const int64_t score = (dh * 255 * 255 + 32768) / 65536 + 128;  // 64 * 65025 / 2^16 -> 63.5 -> 64, + zp
  for (uint8_t v : logits) EXPECT_EQ(v, std::min<int64_t>(score, 255));
}

TEST(Attention, UniformSoftmaxFromTheExpTable) {
  AttentionParams a;
  a.tokens = 3, a.heads = 1, a.head_dim = 1;
  a.softmax = SoftmaxKind::kUniform;
  const double s = 0.25;
  for (int d = 0; d < 256; ++d) a.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-s * d), 30))));
  a.prob_reciprocal_q16 = 65536 * 255;  // s_prob = 1 / 255
  const uint8_t logits[] = {10, 6, 2};
  uint8_t probs[3];
  int32_t exp[3];
  softmax_row_ref(a, logits, exp, probs);
  const double e0 = 1, e1 = std::exp(-1.0), e2 = std::exp(-2.0), sum = e0 + e1 + e2;
  EXPECT_EQ(probs[0], std::lround(255 * e0 / sum));
  EXPECT_EQ(probs[1], std::lround(255 * e1 / sum));
  EXPECT_EQ(probs[2], std::lround(255 * e2 / sum));
}

// The GELU tables built by the lowering, against double GELU on every h of a wide range: the code of the real
// value h s_h is exact except within GELU' * s_h / 2 of a rounding boundary.
TEST(Gelu, TablesGiveTheRoundedGeluOfEveryAccumulator) {
  lower::WeightCodes fc1;
  fc1.name = "fc1";
  fc1.out = 1, fc1.in = 1;
  fc1.scale = {1.0};
  lower::ActQuant in, out;
  in.scale = {1.0};
  out.scale = {0.02};
  out.zero_point = 9;  // GELU >= -0.17: about 8.5 codes below zero
  out.point = "mlp.qact1";
  GeluParams p = lower::gelu_params(fc1, in, out, "test");
  ASSERT_EQ(p.to_h.size(), 1u);
  const double s_h = 0.02 / 4096;
  // Feed h itself (a unit input multiplier) over x in [-8, 6]: both branches, the minimum and saturation at 255.
  p.to_h.assign(1, mult(1.0));
  for (int32_t h = -8 * 204800; h <= 6 * 204800; h += 7) {
    uint8_t code;
    gelu_ref(p, &h, 1, &code);
    const double x = h * s_h, g = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    const double want = std::clamp(g / 0.02 + 9, 0.0, 255.0);
    ASSERT_LE(std::fabs(code - want), kGeluMaxLsb) << "h " << h << " x " << x;
  }
}

}  // namespace
}  // namespace fqvit
