// The fqvit_plus reference kernels (kernels/int_ops_plus.h) against independent values: long double closed forms
// for the exact ops, the float emulation of the wide LayerNorm (quant/int_layer_norm.h, which fake quant runs) and
// a double LayerNorm, the exact erf GELU, and the plain per-tensor kernels where both apply. Each stated overflow
// bound is driven by codes at their extremes (16-bit stream codes shifted by 10, C at its limit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "fqvit/kernels/int_ops_plus.h"
#include "fqvit/lower/lower.h"
#include "fqvit/quant/int_layer_norm.h"
#include "lower/lower_ops.h"

namespace fqvit {
namespace {

constexpr int kLayerNormMaxLsb = 1;             // integer square root (30 bits) vs the emulation's double sqrt
constexpr double kLayerNormMinAgreement = 0.999;  // share of codes equal to the emulation's
constexpr double kGeluMaxLsb = 0.5 + 1.13 / 8192;  // as int_ops_test.cc: rounding + h's half-step times |GELU'|

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "test", "multiplier"); }
long double real_of(FixedMultiplier m) { return std::ldexp(static_cast<long double>(m.mantissa_q31), m.exponent - 31); }

TEST(ResidualAddChannel, SixteenBitCodesMatchTheExactSum) {
  // a: 16-bit stream codes with per-channel zero points; b: uint8 branch codes; out: 16-bit.
  const int64_t c = 7;
  ResidualAddChannelParams p;
  p.channels = c;
  p.lo = 0, p.hi = 65535;
  std::mt19937 rng(5);
  for (int64_t i = 0; i < c; ++i) {
    p.a_zero_point.push_back(1000 * static_cast<int32_t>(i) + 7);
    p.b_zero_point.push_back(static_cast<int32_t>(i * 30));
    p.out_zero_point.push_back(32768 - static_cast<int32_t>(i));
    const double ra = std::ldexp(0.61, -static_cast<int>(i)), rb = std::ldexp(1.7, static_cast<int>(i) - 2);
    const FixedMultiplier big = mult(std::max(ra, rb));
    p.a_multiplier.push_back(fixed_multiplier_with_exponent(ra, big.exponent, "t", "f"));
    p.b_multiplier.push_back(fixed_multiplier_with_exponent(rb, big.exponent, "t", "f"));
  }
  const int64_t rows = 300;
  std::vector<uint16_t> a(static_cast<size_t>(rows * c)), out(a.size());
  std::vector<uint8_t> b(a.size());
  std::uniform_int_distribution<int> u16(0, 65535), u8(0, 255);
  for (size_t i = 0; i < a.size(); ++i) {
    // Rows 0 and 1 at the extremes (the product bound), the rest random.
    a[i] = static_cast<uint16_t>(i < 2 * c ? (i < c ? 65535 : 0) : u16(rng));
    b[i] = static_cast<uint8_t>(i < 2 * c ? (i < c ? 255 : 0) : u8(rng));
  }
  residual_add_channel_ref(p, a.data(), b.data(), rows, out.data());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < c; ++j) {
      const auto i = static_cast<size_t>(r * c + j), jj = static_cast<size_t>(j);
      // Exact in long double: 17-bit x 31-bit products, sums below 2^49.
      const long double v = (a[i] - p.a_zero_point[jj]) * real_of(p.a_multiplier[jj]) +
                            (b[i] - p.b_zero_point[jj]) * real_of(p.b_multiplier[jj]);
      const long double want = std::clamp(std::floor(v + 0.5L) + p.out_zero_point[jj], 0.0L, 65535.0L);
      ASSERT_EQ(static_cast<long double>(out[i]), want) << "row " << r << " channel " << j;
    }
  }
}

// The emulation's float inputs for codes q with zero points zp and scales s1 2^alpha: x = (q - zp) s.
struct WideCase {
  int64_t c;
  std::vector<int32_t> q, zp;
  std::vector<uint8_t> alpha;
  float s1, s_out;
};

LayerNormWideParams wide_params(const WideCase& w, const std::vector<float>& gamma, const std::vector<float>& beta,
                                int32_t out_zp) {
  lower::ActQuant in, out;
  in.point = "in", out.point = "out";
  in.alpha = w.alpha;
  in.zero_points = w.zp;
  in.hi = 65535;
  for (int64_t i = 0; i < w.c; ++i) in.scale.push_back(std::ldexp(w.s1, w.alpha[static_cast<size_t>(i)]));
  out.scale = {w.s_out};
  out.zero_point = out_zp;
  Tensor g({w.c}), b({w.c});
  for (int64_t i = 0; i < w.c; ++i) g[i] = gamma[static_cast<size_t>(i)], b[i] = beta[static_cast<size_t>(i)];
  return lower::layer_norm_wide_params(in, out, g, b, "test");
}

// Codes of the float emulation (int_layer_norm_wide) on the same row, and the kernel's on uint16 codes.
void compare_wide(const WideCase& w, int64_t rows, int64_t& equal, int64_t& total) {
  std::vector<float> gamma(static_cast<size_t>(w.c)), beta(static_cast<size_t>(w.c));
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> ug(0.2f, 2.0f), ub(-1.0f, 1.0f);
  for (auto& v : gamma) v = ug(rng);
  for (auto& v : beta) v = ub(rng);
  const int32_t out_zp = 120;
  const LayerNormWideParams p = wide_params(w, gamma, beta, out_zp);
  std::vector<float> scales, x(static_cast<size_t>(rows * w.c)), y(x.size());
  for (int64_t i = 0; i < w.c; ++i) scales.push_back(std::ldexp(w.s1, w.alpha[static_cast<size_t>(i)]));
  std::vector<uint16_t> q(x.size());
  for (size_t i = 0; i < q.size(); ++i) {
    const size_t ch = i % static_cast<size_t>(w.c);
    q[i] = static_cast<uint16_t>(w.q[i]);
    x[i] = static_cast<float>(w.q[i] - w.zp[ch]) * scales[ch];
  }
  std::vector<uint8_t> out(x.size());
  layer_norm_wide_ref(p, q.data(), rows, out.data());
  int_layer_norm_wide(x.data(), rows, w.c, scales.data(), w.c, &w.s_out, 1, gamma.data(), beta.data(), y.data());
  for (size_t i = 0; i < y.size(); ++i) {
    const double want = std::clamp(static_cast<double>(std::nearbyint(y[i] / w.s_out)) + out_zp, 0.0, 255.0);
    ASSERT_LE(std::fabs(out[i] - want), kLayerNormMaxLsb) << "value " << i << " of C " << w.c;
    equal += out[i] == want;
    ++total;
  }
}

TEST(LayerNormWide, RandomSixteenBitRowsMatchTheEmulation) {
  std::mt19937 rng(7);
  WideCase w{192, {}, {}, {}, 0.01f, 0.05f};
  std::uniform_int_distribution<int> al(0, 10), zp(20000, 40000), dq(-3000, 3000);
  for (int64_t i = 0; i < w.c; ++i) {
    w.alpha.push_back(static_cast<uint8_t>(i == 41 ? 10 : al(rng) / 4));  // one outlier channel at K = 10
    w.zp.push_back(zp(rng));
  }
  const int64_t rows = 100;
  for (int64_t i = 0; i < rows * w.c; ++i) w.q.push_back(w.zp[static_cast<size_t>(i % w.c)] + dq(rng));
  int64_t equal = 0, total = 0;
  compare_wide(w, rows, equal, total);
  EXPECT_GE(static_cast<double>(equal) / static_cast<double>(total), kLayerNormMinAgreement);
}

// Extremes: C = 2048 channels alternating between codes 0 and 65535 at the largest shift 10 (|x| < 2^26, S2 just
// below 2^63, D ~ 2^74: the scaled-down square root); one channel off by one among constant ones (the smallest
// non-zero variance); and a constant row (no NaN: beta's code).
TEST(LayerNormWide, ExtremeRowsMatchTheEmulationAndDoubleLayerNorm) {
  const int64_t c = kLayerNormWideMaxChannels;
  WideCase w{c, {}, std::vector<int32_t>(static_cast<size_t>(c), 0),
             std::vector<uint8_t>(static_cast<size_t>(c), kLayerNormWideMaxShift), 1e-6f, 0.03f};
  for (int64_t i = 0; i < c; ++i) w.q.push_back(i % 2 ? 65535 : 0);
  for (int64_t i = 0; i < c; ++i) w.q.push_back(i == 5 ? 65534 : 65535);
  for (int64_t i = 0; i < c; ++i) w.q.push_back(4321);
  int64_t equal = 0, total = 0;
  compare_wide(w, 3, equal, total);
  EXPECT_GE(static_cast<double>(equal) / static_cast<double>(total), kLayerNormMinAgreement);

  // And against LayerNorm in double on the alternating row: gamma 1, beta 0 gives +-1 / s_out.
  lower::ActQuant in, out;
  in.point = "in", out.point = "out";
  in.alpha = w.alpha;
  in.zero_points = w.zp;
  in.hi = 65535;
  in.scale.assign(static_cast<size_t>(c), std::ldexp(1e-6, kLayerNormWideMaxShift));
  out.scale = {0.03};
  out.zero_point = 128;
  Tensor g({c}), b({c});
  for (int64_t i = 0; i < c; ++i) g[i] = 1.0f, b[i] = 0.0f;
  const LayerNormWideParams p = lower::layer_norm_wide_params(in, out, g, b, "test");
  std::vector<uint16_t> q(w.q.begin(), w.q.begin() + c);
  std::vector<uint8_t> y(static_cast<size_t>(c));
  layer_norm_wide_ref(p, q.data(), 1, y.data());
  for (int64_t i = 0; i < c; ++i) {
    EXPECT_EQ(y[static_cast<size_t>(i)], 128 + std::lround((i % 2 ? 1.0 : -1.0) / 0.03)) << i;
  }
}

TEST(GeluChannel, EachChannelGetsTheRoundedGeluOnItsOwnScaleAndZeroPoint) {
  // Three channels on scales s1 2^alpha with their own zero points; h fed directly (unit input multiplier).
  lower::WeightCodes fc1;
  fc1.name = "fc1";
  fc1.out = 3, fc1.in = 1;
  fc1.scale = {1.0, 1.0, 1.0};
  lower::ActQuant in, out;
  in.scale = {1.0};
  in.point = "in", out.point = "mlp.qact1";
  const double s1 = 0.004;
  out.alpha = {0, 2, 5};
  out.zero_points = {43, 11, 0};
  for (uint8_t a : out.alpha) out.scale.push_back(std::ldexp(s1, a));
  GeluChannelParams p = lower::gelu_channel_params(fc1, in, out, "test");
  ASSERT_EQ(p.groups.size(), 3u);
  ASSERT_EQ(p.buckets.size(), 3u);
  for (const GeluStepBuckets& b : p.buckets) EXPECT_FALSE(b.value.empty());
  GeluChannelParams searched = p;  // the binary-search form, which the buckets must reproduce exactly
  searched.buckets.clear();
  for (int64_t c = 0; c < 3; ++c) {
    const double s = out.scale[static_cast<size_t>(c)], s_h = s / 4096;
    p.to_h[static_cast<size_t>(c)] = mult(1.0);
    searched.to_h[static_cast<size_t>(c)] = mult(1.0);
    for (int32_t h = static_cast<int32_t>(-6 / s_h); h <= static_cast<int32_t>(std::min(8.0, 300 * s) / s_h);
         h += 13) {
      std::vector<int32_t> acc(3, 0);
      acc[static_cast<size_t>(c)] = h;
      std::vector<uint8_t> code(3);
      gelu_channel_ref(p, acc.data(), 1, code.data());
      std::vector<uint8_t> by_search(3);
      gelu_channel_ref(searched, acc.data(), 1, by_search.data());
      ASSERT_EQ(code, by_search) << "h " << h;
      const double x = h * s_h, g = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
      const double want = std::clamp(g / s + out.zero_points[static_cast<size_t>(c)], 0.0, 255.0);
      ASSERT_LE(std::fabs(code[static_cast<size_t>(c)] - want), kGeluMaxLsb) << "channel " << c << " x " << x;
    }
  }
}

TEST(AttentionContextChannel, EqualChannelsGiveThePerTensorKernelsCodes) {
  // With one multiplier and zero point on every channel the per-channel requant is the per-tensor kernel's.
  AttentionParams a;
  a.tokens = 9, a.heads = 2, a.head_dim = 4;
  a.qkv_zero_point = 100;
  a.softmax = SoftmaxKind::kLog2;
  a.log2_bits = 4;
  a.context_multiplier = mult(0.003);
  a.out_zero_point = 77;
  ChannelRequantParams same;
  same.multiplier.assign(8, a.context_multiplier);
  same.zero_point.assign(8, 77);
  ChannelRequantParams halved = same;  // channel 3 on twice the scale: half the multiplier
  halved.multiplier[3] = mult(0.0015);
  halved.zero_point[3] = 10;
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> u8(0, 255), k(0, 16);
  std::vector<uint8_t> qkv(static_cast<size_t>(a.tokens * 3 * 8)), probs(static_cast<size_t>(a.tokens * a.tokens));
  for (auto& v : qkv) v = static_cast<uint8_t>(u8(rng));
  for (auto& v : probs) v = static_cast<uint8_t>(k(rng));
  std::vector<uint8_t> want(static_cast<size_t>(a.tokens * 8)), got(want.size()), got2(want.size());
  for (int64_t h = 0; h < 2; ++h) {
    attention_context_ref(a, probs.data(), qkv.data(), h, want.data());
    attention_context_channel_ref(a, same, probs.data(), qkv.data(), h, got.data());
    attention_context_channel_ref(a, halved, probs.data(), qkv.data(), h, got2.data());
  }
  EXPECT_EQ(got, want);
  for (int64_t t = 0; t < a.tokens; ++t) {
    // Channel 3 against the exact accumulator: sum_s (v - zp) 2^(15 - k).
    int64_t acc = 0;
    for (int64_t s = 0; s < a.tokens; ++s) {
      const uint8_t kc = probs[static_cast<size_t>(t * a.tokens + s)];
      if (kc < 16) acc += (int64_t{qkv[static_cast<size_t>(s * 24 + 16 + 3)]} - 100) << (15 - kc);
    }
    const long double v = static_cast<long double>(acc) * real_of(halved.multiplier[3]);
    EXPECT_EQ(got2[static_cast<size_t>(t * 8 + 3)], std::clamp(std::floor(v + 0.5L) + 10, 0.0L, 255.0L));
  }
}

TEST(RequantizeChannels, EachOutputOnItsOwnMultiplierAndZeroPoint) {
  ChannelRequantParams p;
  p.multiplier = {mult(0.5), mult(0.25)};
  p.zero_point = {10, 200};
  const int32_t acc[] = {3, -3, 1 << 30, -(1 << 30)};
  uint8_t out[4];
  requantize_channels_ref(p, acc, 2, 2, out);
  EXPECT_EQ(out[0], 12);   // 1.5 -> 2 (half up) + 10
  EXPECT_EQ(out[1], 199);  // -0.75 -> -1 + 200
  EXPECT_EQ(out[2], 255);  // clamped
  EXPECT_EQ(out[3], 0);
}

}  // namespace
}  // namespace fqvit
