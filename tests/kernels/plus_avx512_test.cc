// The fqvit_plus fast kernels (src/kernels/x86/plus_*_avx512.cc, the VNNI GEMM's per-channel epilogue) against their
// reference kernels (src/kernels/ref/plus_ref.cc), bit for bit: every element compared with ASSERT_EQ over edge
// shapes (1, odd, prime, around the 8 / 16 / 64 lane blocks, C at the wide LayerNorm's limit), 16-bit codes at both
// ends, PTF shifts up to 10, per-channel zero points at their extremes, random parameters; and on two threads at
// once (the kernels' per-thread scratch). Skipped on a CPU without AVX-512 VNNI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops_plus.h"
#include "fqvit/lower/lower.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/plus_x86.h"
#include "lower/lower_ops.h"

namespace fqvit {
namespace {

enum class Fill { kRandom, kLow, kHigh, kAlternating, kOutlier };
constexpr Fill kFills[] = {Fill::kRandom, Fill::kLow, Fill::kHigh, Fill::kAlternating, Fill::kOutlier};

template <typename T>
std::vector<T> codes(int64_t n, int32_t top, Fill fill, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> u(0, top);
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int32_t c = 0;
    switch (fill) {
      case Fill::kRandom: c = u(rng); break;
      case Fill::kLow: c = 0; break;
      case Fill::kHigh: c = top; break;
      case Fill::kAlternating: c = i % 2 ? top : 0; break;
      case Fill::kOutlier: c = i % 37 == 5 ? top : top / 2 + u(rng) % 8; break;
    }
    v[static_cast<size_t>(i)] = static_cast<T>(c);
  }
  return v;
}

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "test", "multiplier"); }
double log_uniform(std::mt19937& rng, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

class PlusAvx512 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::cpu_has_avx512_vnni()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  }
};

// ---- residual add with per-channel zero points ----

ResidualAddChannelParams add_params(int64_t c, int32_t a_top, int32_t out_top, std::mt19937& rng) {
  ResidualAddChannelParams p;
  p.channels = c;
  p.lo = 0, p.hi = out_top;
  std::uniform_int_distribution<int32_t> za(0, a_top), zb(0, 255), zo(0, out_top);
  for (int64_t i = 0; i < c; ++i) {
    // Zero points at both ends on the first channels, then random.
    p.a_zero_point.push_back(i == 0 ? 0 : (i == 1 ? a_top : za(rng)));
    p.b_zero_point.push_back(i == 0 ? 255 : zb(rng));
    p.out_zero_point.push_back(i == 2 ? out_top : zo(rng));
    const double ra = log_uniform(rng, 1e-4, 4), rb = log_uniform(rng, 1e-3, 300);
    const FixedMultiplier big = mult(std::max(ra, rb));
    p.a_multiplier.push_back(fixed_multiplier_with_exponent(ra, big.exponent, "t", "a"));
    p.b_multiplier.push_back(fixed_multiplier_with_exponent(rb, big.exponent, "t", "b"));
  }
  return p;
}

template <typename A, typename Out>
void check_add(int64_t c, int64_t rows, int32_t a_top, int32_t out_top, std::mt19937& rng, const std::string& what) {
  const ResidualAddChannelParams p = add_params(c, a_top, out_top, rng);
  for (const Fill fill : kFills) {
    const std::vector<A> a = codes<A>(rows * c, a_top, fill, rng);
    const std::vector<uint8_t> b = codes<uint8_t>(rows * c, 255, fill == Fill::kHigh ? Fill::kLow : fill, rng);
    std::vector<Out> want(a.size()), got(a.size(), 0xAB);
    residual_add_channel_ref(p, a.data(), b.data(), rows, want.data());
    kernels::residual_add_channel_avx512(p, a.data(), b.data(), rows, got.data());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << what << " C " << c << " fill " << static_cast<int>(fill) << " element " << i;
    }
  }
}

TEST_F(PlusAvx512, ResidualAddChannelEqualsReferenceForEveryCodeWidth) {
  std::mt19937 rng(3);
  for (const int64_t c : {1, 7, 8, 15, 16, 17, 31, 192, 193}) {
    check_add<uint8_t, uint8_t>(c, 5, 255, 255, rng, "u8 + u8 -> u8");
    check_add<uint8_t, uint16_t>(c, 5, 255, 65535, rng, "u8 + u8 -> u16");
    check_add<uint16_t, uint16_t>(c, 5, 65535, 65535, rng, "u16 + u8 -> u16");
  }
}

// ---- the wide LayerNorm ----

// Random parameters straight into the kernel's struct: gammas of both signs and zero, exponents over a wide range
// (A from far below 2^-25 to above 2^15: N clamped at both ends and M at its 2^31 cap), betas near the fast form's
// limit, per-channel zero points and shifts 0..10.
LayerNormWideParams random_wide_params(int64_t c, int32_t in_top, int max_shift, std::mt19937& rng) {
  LayerNormWideParams p;
  p.channels = c;
  p.lo = 0, p.hi = 255;
  std::uniform_int_distribution<int32_t> zp(0, in_top), zo(0, 255), sh(0, max_shift), expo(-10, 24);
  std::uniform_int_distribution<int64_t> beta(-(int64_t{1} << 44), int64_t{1} << 44);
  std::uniform_int_distribution<int32_t> mant((1 << 30), 0x7FFFFFFF);
  for (int64_t i = 0; i < c; ++i) {
    p.in_zero_point.push_back(zp(rng));
    p.in_shift.push_back(static_cast<uint8_t>(i == 0 ? max_shift : sh(rng)));
    FixedMultiplier g{mant(rng) * (i % 3 == 1 ? -1 : 1), expo(rng)};
    if (i == 4) g = FixedMultiplier{0, 0};  // gamma 0: the zero-variance code
    p.gamma.push_back(g);
    p.beta_q32.push_back(beta(rng) >> (i % 5 * 8));
    p.zero_variance_code.push_back(static_cast<uint8_t>(zo(rng)));
    p.out_zero_point.push_back(zo(rng));
  }
  return p;
}

// Parameters as the lowering builds them from float gamma / beta and per-channel quantizers (realistic A and B).
LayerNormWideParams lowered_wide_params(int64_t c, int32_t in_top, int max_shift, std::mt19937& rng) {
  lower::ActQuant in, out;
  in.point = "in", out.point = "out";
  in.hi = in_top;
  std::uniform_int_distribution<int32_t> zp(0, in_top), sh(0, max_shift), zo(0, 255);
  std::uniform_real_distribution<float> ug(0.2f, 2.0f), ub(-1.0f, 1.0f);
  Tensor g({c}), b({c});
  for (int64_t i = 0; i < c; ++i) {
    in.alpha.push_back(static_cast<uint8_t>(i == 0 ? max_shift : sh(rng)));
    in.zero_points.push_back(zp(rng));
    in.scale.push_back(std::ldexp(in_top > 255 ? 1e-4 : 0.02, in.alpha.back()));
    out.alpha.push_back(static_cast<uint8_t>(sh(rng) % 3));
    out.scale.push_back(std::ldexp(0.03, out.alpha.back()));
    out.zero_points.push_back(zo(rng));
    g[i] = i % 7 == 3 ? -ug(rng) : ug(rng);
    b[i] = ub(rng);
  }
  return lower::layer_norm_wide_params(in, out, g, b, "test");
}

template <typename In>
void check_wide(const LayerNormWideParams& p, int64_t rows, int32_t in_top, std::mt19937& rng,
                const std::string& what) {
  for (const Fill fill : kFills) {
    std::vector<In> q = codes<In>(rows * p.channels, in_top, fill, rng);
    // A row of codes at the channels' zero points (zero variance) and one a single step off it.
    for (int64_t i = 0; i < p.channels; ++i) {
      q[static_cast<size_t>(i)] = static_cast<In>(p.in_zero_point[static_cast<size_t>(i)]);
      if (rows > 1) q[static_cast<size_t>(p.channels + i)] = static_cast<In>(p.in_zero_point[static_cast<size_t>(i)]);
    }
    if (rows > 1) q[static_cast<size_t>(p.channels)] = static_cast<In>(q[static_cast<size_t>(p.channels)] == 0 ? 1 : 0);
    std::vector<uint8_t> want(q.size()), got(q.size(), 0xAB);
    layer_norm_wide_ref(p, q.data(), rows, want.data());
    kernels::layer_norm_wide_avx512(p, q.data(), rows, got.data());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << what << " C " << p.channels << " fill " << static_cast<int>(fill) << " row "
                                 << i / static_cast<size_t>(p.channels) << " channel "
                                 << i % static_cast<size_t>(p.channels);
    }
  }
}

TEST_F(PlusAvx512, LayerNormWideEqualsReferenceOnLoweredParams) {
  std::mt19937 rng(5);
  for (const int64_t c : {1, 3, 8, 9, 16, 17, 192, 385}) {
    for (const int max_shift : {0, 3, 10}) {
      check_wide<uint8_t>(lowered_wide_params(c, 255, max_shift, rng), 11, 255, rng, "u8");
      check_wide<uint16_t>(lowered_wide_params(c, 65535, max_shift, rng), 11, 65535, rng, "u16");
    }
  }
  check_wide<uint16_t>(lowered_wide_params(kLayerNormWideMaxChannels, 65535, 10, rng), 3, 65535, rng, "u16 C max");
}

TEST_F(PlusAvx512, LayerNormWideEqualsReferenceOnRandomParams) {
  std::mt19937 rng(9);
  for (const int64_t c : {1, 2, 7, 16, 33, 192}) {
    for (int trial = 0; trial < 4; ++trial) {
      check_wide<uint8_t>(random_wide_params(c, 255, 10, rng), 9, 255, rng, "u8 random");
      check_wide<uint16_t>(random_wide_params(c, 65535, 10, rng), 17, 65535, rng, "u16 random");
    }
  }
}

// ---- the GEMM's per-channel epilogue: requantization and GELU groups ----

struct Shape {
  int64_t m, n, k;
};
constexpr Shape kShapes[] = {{1, 1, 1},   {5, 17, 3},   {6, 16, 4},   {7, 65, 65},
                             {13, 192, 64}, {25, 768, 192}, {2, 33, 1031}};

ChannelRequantParams channel_requant(int64_t n, std::mt19937& rng) {
  ChannelRequantParams p;
  std::uniform_int_distribution<int32_t> zp(0, 255), off(-(1 << 20), 1 << 20);
  for (int64_t j = 0; j < n; ++j) {
    p.multiplier.push_back(mult(log_uniform(rng, 1e-7, 1e-2)));
    p.zero_point.push_back(j == 0 ? 0 : (j == 1 ? 255 : zp(rng)));
    p.rounding_offset.push_back(off(rng));
  }
  return p;
}

// Channel groups on scales s1 2^alpha (alpha up to 10), per-channel zero points, as the lowering builds them.
GeluChannelParams gelu_groups(int64_t n, std::mt19937& rng) {
  lower::WeightCodes fc1;
  fc1.name = "fc1";
  fc1.out = n, fc1.in = 1;
  lower::ActQuant in, out;
  in.scale = {0.05};
  in.point = "in", out.point = "mlp.qact1";
  std::uniform_int_distribution<int32_t> alpha(0, 10), zp(0, 60);
  for (int64_t j = 0; j < n; ++j) {
    fc1.scale.push_back(log_uniform(rng, 1e-3, 1e-2));
    out.alpha.push_back(static_cast<uint8_t>(j == 0 ? 10 : alpha(rng) % 4));
    out.zero_points.push_back(zp(rng));
    out.scale.push_back(std::ldexp(0.004, out.alpha.back()));
  }
  GeluChannelParams p = lower::gelu_channel_params(fc1, in, out, "test");
  std::uniform_int_distribution<int32_t> off(-(1 << 20), 1 << 20);
  p.to_h_rounding_offset.clear();
  for (int64_t j = 0; j < n; ++j) p.to_h_rounding_offset.push_back(off(rng));
  return p;
}

TEST_F(PlusAvx512, LinearChannelFormsEqualGemmThenReference) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> s8(-128, 127);
  std::uniform_int_distribution<int32_t> bias_value(-(1 << 20), 1 << 20);
  const GemmIsa original = gemm_isa_in_use();
  for (const Shape sh : kShapes) {
    const ChannelRequantParams rq = channel_requant(sh.n, rng);
    const GeluChannelParams gelu = gelu_groups(sh.n, rng);
    ASSERT_FALSE(gelu.lane_packed.empty()) << "N " << sh.n << ": the packed GELU form was not built";
    std::vector<int8_t> w(static_cast<size_t>(sh.n * sh.k));
    for (auto& v : w) v = static_cast<int8_t>(s8(rng));
    std::vector<int32_t> bias(static_cast<size_t>(sh.n));
    for (auto& b : bias) b = bias_value(rng);
    for (const Fill fill : kFills) {
      const std::vector<uint8_t> a = codes<uint8_t>(sh.m * sh.k, 255, fill, rng);
      std::vector<int32_t> acc(static_cast<size_t>(sh.m * sh.n));
      gemm_u8s8s32_ref(sh.m, sh.n, sh.k, a.data(), sh.k, w.data(), bias.data(), acc.data(), sh.n);
      std::vector<uint8_t> want_rq(acc.size()), want_gelu(acc.size());
      requantize_channels_ref(rq, acc.data(), sh.m, sh.n, want_rq.data());
      gelu_channel_ref(gelu, acc.data(), sh.m, want_gelu.data());
      for (const GemmIsa isa : {GemmIsa::kAvx512Vnni, GemmIsa::kRef}) {
        force_gemm_isa(isa);
        const PackedWeights pw(w.data(), sh.n, sh.k);
        std::vector<uint8_t> got_rq(acc.size(), 0xAB), got_gelu(acc.size(), 0xAB);
        linear_requantize_channels(pw, sh.m, a.data(), sh.k, bias.data(), rq, got_rq.data());
        linear_gelu_channel(pw, sh.m, a.data(), sh.k, bias.data(), gelu, got_gelu.data());
        for (size_t i = 0; i < acc.size(); ++i) {
          const std::string what = "M " + std::to_string(sh.m) + " N " + std::to_string(sh.n) + " K " +
                                   std::to_string(sh.k) + " path " + gemm_isa_name(isa) + " fill " +
                                   std::to_string(static_cast<int>(fill)) + " element " + std::to_string(i) +
                                   " acc " + std::to_string(acc[i]);
          ASSERT_EQ(got_rq[i], want_rq[i]) << "requant " << what;
          ASSERT_EQ(got_gelu[i], want_gelu[i]) << "gelu " << what;
        }
      }
      force_gemm_isa(original);
    }
  }
}

// The per-channel GELU over every h of each group's table range (plus beyond both ends), fed straight as
// accumulators through a unit multiplier: every bucket, every step.
TEST_F(PlusAvx512, LinearGeluChannelCoversEveryBucket) {
  std::mt19937 rng(17);
  const int64_t n = 17;
  GeluChannelParams p = gelu_groups(n, rng);
  for (auto& m : p.to_h) m = mult(1.0);
  p.to_h_rounding_offset.clear();
  ASSERT_FALSE(p.lane_packed.empty());
  // One input of K = 1 with weight 1 on every channel: acc = a + bias, so each row sweeps h through the bias.
  const GemmIsa original = gemm_isa_in_use();
  force_gemm_isa(GemmIsa::kAvx512Vnni);
  std::vector<int8_t> w(static_cast<size_t>(n), 1);
  const PackedWeights pw(w.data(), n, 1);
  force_gemm_isa(original);
  int32_t lo = INT32_MAX, hi = INT32_MIN;
  for (const GeluStepBuckets& b : p.buckets) {
    lo = std::min(lo, b.origin - 300);
    hi = std::max<int32_t>(hi, static_cast<int32_t>(std::min<int64_t>(
                                   b.origin + (static_cast<int64_t>(b.value.size()) << b.shift) + 300, 1 << 29)));
  }
  const uint8_t zero = 0;
  std::vector<int32_t> bias(static_cast<size_t>(n));
  std::vector<uint8_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
  const int32_t step = std::max<int32_t>(1, (hi - lo) / 200000);
  for (int32_t h = lo; h < hi; h += step) {
    for (int64_t j = 0; j < n; ++j) bias[static_cast<size_t>(j)] = h + static_cast<int32_t>(j) * 7;
    gelu_channel_ref(p, bias.data(), 1, want.data());
    linear_gelu_channel(pw, 1, &zero, 1, bias.data(), p, got.data());
    ASSERT_EQ(got, want) << "h " << h;
  }
}

// ---- attention with the context requantized per channel ----

AttentionParams log2_attention(int64_t tokens, int64_t heads, int64_t dh, int bits, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255);
  AttentionParams a;
  a.tokens = tokens, a.heads = heads, a.head_dim = dh;
  a.qkv_zero_point = u8(rng);
  a.score_multiplier = mult(log_uniform(rng, 1.0 / (double(dh) * 4000), 1.0 / (double(dh) * 10)));
  a.logit_zero_point = u8(rng);
  a.logit_lo = 0, a.logit_hi = 255;
  a.softmax = SoftmaxKind::kLog2;
  a.exp = lower::int_exp_params(log_uniform(rng, 0.01, 0.5), 30);
  for (int d = 0; d < 256; ++d) a.exp_table.push_back(int_exp(-d, a.exp));
  a.log2_bits = bits;
  return a;
}

TEST_F(PlusAvx512, AttentionRowsChannelEqualsReference) {
  std::mt19937 rng(29);
  struct Case {
    int64_t tokens, heads, dh;
    int bits;
  };
  for (const Case k : {Case{1, 1, 1, 4}, Case{5, 2, 17, 4}, Case{13, 3, 64, 4}, Case{197, 3, 64, 4},
                       Case{50, 2, 32, 3}, Case{257, 1, 16, 4}, Case{9, 1, 256, 2}}) {
    const AttentionParams a = log2_attention(k.tokens, k.heads, k.dh, k.bits, rng);
    const int64_t dim = k.heads * k.dh;
    ChannelRequantParams ctx;
    std::uniform_int_distribution<int32_t> zp(0, 255);
    for (int64_t j = 0; j < dim; ++j) {
      ctx.multiplier.push_back(mult(std::ldexp(1.0, 1 - (1 << k.bits)) * log_uniform(rng, 0.02, 8)));
      ctx.zero_point.push_back(j == 0 ? 0 : (j == 1 ? 255 : zp(rng)));
    }
    ASSERT_TRUE(attention_rows_channel_supported(a, ctx));
    for (const Fill fill : kFills) {
      const std::vector<uint8_t> qkv = codes<uint8_t>(k.tokens * 3 * dim, 255, fill, rng);
      std::vector<uint8_t> want(static_cast<size_t>(k.tokens * dim)), got(want.size(), 0xAB);
      std::vector<uint8_t> logits(static_cast<size_t>(k.tokens * k.tokens)), probs(logits.size());
      std::vector<int32_t> exp(static_cast<size_t>(k.tokens));
      for (int64_t h = 0; h < k.heads; ++h) {
        attention_logits_ref(a, qkv.data(), h, logits.data());
        for (int64_t t = 0; t < k.tokens; ++t) {
          softmax_row_ref(a, logits.data() + t * k.tokens, exp.data(), probs.data() + t * k.tokens);
        }
        attention_context_channel_ref(a, ctx, probs.data(), qkv.data(), h, want.data());
        // An uneven split of the rows (block tails of 1..3 rows, a split inside a block).
        const int64_t cuts[] = {0, std::min<int64_t>(k.tokens, 5), std::min<int64_t>(k.tokens, k.tokens / 2 + 1),
                                k.tokens};
        for (int c = 0; c < 3; ++c) {
          kernels::attention_rows_channel_avx512(a, ctx, qkv.data(), h, cuts[c], cuts[c + 1], got.data());
        }
      }
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i], want[i]) << "T " << k.tokens << " heads " << k.heads << " dh " << k.dh << " bits "
                                   << k.bits << " fill " << static_cast<int>(fill) << " element " << i;
      }
    }
  }
}

TEST_F(PlusAvx512, KernelsOnTwoThreadsEqualReference) {
  std::mt19937 rng(23);
  const LayerNormWideParams ln = lowered_wide_params(192, 65535, 10, rng);
  const ResidualAddChannelParams add = add_params(192, 65535, 65535, rng);
  const int64_t rows = 197;
  const std::vector<uint16_t> q = codes<uint16_t>(rows * 192, 65535, Fill::kRandom, rng);
  const std::vector<uint8_t> b = codes<uint8_t>(rows * 192, 255, Fill::kRandom, rng);
  std::vector<uint8_t> ln_want(q.size());
  std::vector<uint16_t> add_want(q.size());
  layer_norm_wide_ref(ln, q.data(), rows, ln_want.data());
  residual_add_channel_ref(add, q.data(), b.data(), rows, add_want.data());
  std::vector<uint8_t> ln_got[2];
  std::vector<uint16_t> add_got[2];
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    ln_got[t].assign(q.size(), 0), add_got[t].assign(q.size(), 0);
    threads[t] = std::thread([&, t] {
      for (int rep = 0; rep < 3; ++rep) {
        kernels::layer_norm_wide_avx512(ln, q.data(), rows, ln_got[t].data());
        kernels::residual_add_channel_avx512(add, q.data(), b.data(), rows, add_got[t].data());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(ln_got[t], ln_want) << "thread " << t;
    EXPECT_EQ(add_got[t], add_want) << "thread " << t;
  }
}

}  // namespace
}  // namespace fqvit
