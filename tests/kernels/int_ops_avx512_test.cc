// The AVX-512 non-GEMM kernels (src/kernels/x86/) against their reference kernels (src/kernels/ref/), bit for bit:
// every element compared with ASSERT_EQ over edge shapes (1, odd, prime, around the 16 / 64 lane blocks, the
// lowering's 257-token limit), nasty data (all codes at 0 or 255, alternating extremes, outlier channels) and
// random parameters; and the same problems on two threads at once (the kernels' per-thread scratch). Skipped on a
// CPU without AVX-512 VNNI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/int_ops_x86.h"
#include "fqvit/lower/lower.h"
#include "lower/lower_ops.h"

namespace fqvit {
namespace {

enum class Fill { kRandom, kZeros, kMax, kAlternating, kOutlier };
constexpr Fill kFills[] = {Fill::kRandom, Fill::kZeros, Fill::kMax, Fill::kAlternating, Fill::kOutlier};

std::vector<uint8_t> codes(int64_t n, Fill fill, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255);
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    switch (fill) {
      case Fill::kRandom: v[static_cast<size_t>(i)] = static_cast<uint8_t>(u8(rng)); break;
      case Fill::kZeros: v[static_cast<size_t>(i)] = 0; break;
      case Fill::kMax: v[static_cast<size_t>(i)] = 255; break;
      case Fill::kAlternating: v[static_cast<size_t>(i)] = i % 2 ? 255 : 0; break;
      case Fill::kOutlier: v[static_cast<size_t>(i)] = i % 37 == 5 ? 255 : static_cast<uint8_t>(120 + u8(rng) % 8); break;
    }
  }
  return v;
}

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "test", "multiplier"); }

double log_uniform(std::mt19937& rng, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

AttentionParams attention(int64_t tokens, int64_t heads, int64_t dh, SoftmaxKind kind, int bits, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255);
  AttentionParams a;
  a.tokens = tokens, a.heads = heads, a.head_dim = dh;
  a.qkv_zero_point = u8(rng);
  a.score_multiplier = mult(log_uniform(rng, 1.0 / (double(dh) * 4000), 1.0 / (double(dh) * 10)));
  a.logit_zero_point = u8(rng);
  a.logit_lo = 0, a.logit_hi = 255;
  a.softmax = kind;
  const double s = log_uniform(rng, 0.01, 0.5);
  if (kind == SoftmaxKind::kLog2) {
    a.exp = lower::int_exp_params(s, 30);
    for (int d = 0; d < 256; ++d) a.exp_table.push_back(int_exp(-d, a.exp));
    a.log2_bits = bits;
    a.context_multiplier = mult(std::ldexp(1.0, 1 - (1 << bits)) * log_uniform(rng, 0.05, 4));
  } else {
    for (int d = 0; d < 256; ++d) a.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-s * d), 30))));
    a.prob_reciprocal_q16 = 65536 * 255;
    a.prob_zero_point = u8(rng) % 16;
    a.context_multiplier = mult(log_uniform(rng, 1.0 / 65536, 1.0 / 64));
  }
  a.out_zero_point = u8(rng);
  return a;
}

std::string describe(const AttentionParams& a, Fill fill) {
  return "T " + std::to_string(a.tokens) + " heads " + std::to_string(a.heads) + " head_dim " +
         std::to_string(a.head_dim) + (a.softmax == SoftmaxKind::kLog2 ? " log2 bits " + std::to_string(a.log2_bits)
                                                                         : std::string(" uniform")) +
         " zp " + std::to_string(a.qkv_zero_point) + " fill " + std::to_string(static_cast<int>(fill));
}

// Every stage and the fused head of every head of one problem, fast against reference.
void check_attention(const AttentionParams& a, Fill fill, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t t = a.tokens, dim = a.heads * a.head_dim;
  const std::vector<uint8_t> qkv = codes(t * 3 * dim, fill, rng);
  const std::string what = describe(a, fill);
  std::vector<uint8_t> want(static_cast<size_t>(t * dim)), got(want.size()), got_fused(want.size()),
      got_rows(want.size()), got_rows_ref(want.size()), got_gather(want.size());
  std::vector<uint8_t> logits_ref(static_cast<size_t>(t * t)), logits(logits_ref.size()), probs_ref(logits.size()),
      probs(logits.size());
  std::vector<int32_t> exp(static_cast<size_t>(t));
  AttentionScratch scratch_ref, scratch;
  for (int64_t h = 0; h < a.heads; ++h) {
    attention_logits_ref(a, qkv.data(), h, logits_ref.data());
    kernels::attention_logits_avx512(a, qkv.data(), h, logits.data());
    for (size_t i = 0; i < logits.size(); ++i) ASSERT_EQ(logits[i], logits_ref[i]) << what << " h " << h << " logit " << i;
    for (int64_t r = 0; r < t; ++r) {
      softmax_row_ref(a, logits_ref.data() + r * t, exp.data(), probs_ref.data() + r * t);
      kernels::softmax_row_avx512(a, logits_ref.data() + r * t, exp.data(), probs.data() + r * t);
    }
    for (size_t i = 0; i < probs.size(); ++i) ASSERT_EQ(probs[i], probs_ref[i]) << what << " h " << h << " prob " << i;
    attention_context_ref(a, probs_ref.data(), qkv.data(), h, want.data());
    kernels::attention_context_avx512(a, probs_ref.data(), qkv.data(), h, got.data());
    kernels::attention_head_avx512(a, qkv.data(), h, scratch, got_fused.data());
    // The rows form over an uneven split (block tails of 1..3 rows, a split inside a block), fast and reference.
    const int64_t cuts[] = {0, std::min<int64_t>(t, 5), std::min<int64_t>(t, t / 2 + 1), t};
    for (int c = 0; c < 3; ++c) {
      kernels::attention_rows_avx512(a, qkv.data(), h, cuts[c], cuts[c + 1], got_rows.data());
      attention_head_rows_ref(a, qkv.data(), h, cuts[c], cuts[c + 1], scratch_ref, got_rows_ref.data());
    }
    // The rows form's other softmax (gather form, for CPUs without VBMI), on this CPU too.
    kernels::mask_avx512_vbmi(true);
    kernels::attention_rows_avx512(a, qkv.data(), h, 0, t, got_gather.data());
    kernels::mask_avx512_vbmi(false);
  }
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << what << " context " << i;
    ASSERT_EQ(got_fused[i], want[i]) << what << " fused head, context " << i;
    ASSERT_EQ(got_rows[i], want[i]) << what << " rows form, context " << i;
    ASSERT_EQ(got_rows_ref[i], want[i]) << what << " reference rows form, context " << i;
    ASSERT_EQ(got_gather[i], want[i]) << what << " rows form without VBMI, context " << i;
  }
}

class Avx512Kernels : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::cpu_has_avx512_vnni()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  }
};

TEST_F(Avx512Kernels, AttentionEqualsReferenceOnEdgeShapes) {
  std::mt19937 rng(11);
  uint32_t seed = 1;
  for (const int64_t t : {1, 2, 3, 15, 16, 17, 31, 50, 63, 64, 65, 66, 101, 197}) {
    for (const int64_t dh : {1, 2, 3, 16, 17, 31, 64, 65}) {
      for (const Fill fill : kFills) {
        check_attention(attention(t, 1 + (t + dh) % 3, dh, SoftmaxKind::kLog2, 4, rng), fill, ++seed);
        check_attention(attention(t, 2, dh, SoftmaxKind::kUniform, 8, rng), fill, ++seed);
      }
    }
  }
}

TEST_F(Avx512Kernels, AttentionEqualsReferenceOnEveryLog2WidthAndTheTokenLimit) {
  std::mt19937 rng(12);
  uint32_t seed = 100;
  for (const int bits : {1, 2, 3, 4}) {
    for (const Fill fill : kFills) check_attention(attention(197, 3, 64, SoftmaxKind::kLog2, bits, rng), fill, ++seed);
  }
  // 257 tokens, all weight on v = 255 at zp 0: the reference's int32 worst case.
  AttentionParams a = attention(257, 1, 64, SoftmaxKind::kLog2, 4, rng);
  a.qkv_zero_point = 0;
  for (const Fill fill : kFills) check_attention(a, fill, ++seed);
}

// Uniform softmax quotients beyond the 9-bit long division (a probability scale of 1/1000 and 1/600: codes clamp at
// hi), a narrow [lo, hi], a zero point at the long division's -256 limit and below it (the reference form), and the
// 256 / 257-token bound of the fast form.
TEST_F(Avx512Kernels, UniformSoftmaxEqualsReferenceAtItsBounds) {
  std::mt19937 rng(14);
  uint32_t seed = 700;
  for (const int64_t t : {1, 9, 197, 256, 257}) {
    for (const int64_t reciprocal : {int64_t{65536} * 1000, int64_t{65536} * 600, int64_t{65536} * 17, (int64_t{1} << 31) - 1}) {
      for (const int32_t zp : {0, 7, -256, -300}) {
        AttentionParams a = attention(t, 1, 16, SoftmaxKind::kUniform, 8, rng);
        a.prob_reciprocal_q16 = reciprocal;
        a.prob_zero_point = zp;
        a.prob_lo = zp == 7 ? 3 : 0, a.prob_hi = zp == 7 ? 200 : 255;
        for (const Fill fill : kFills) check_attention(a, fill, ++seed);
      }
    }
  }
}

TEST_F(Avx512Kernels, AttentionOnTwoThreadsEqualsReference) {
  std::mt19937 rng(13);
  const AttentionParams a = attention(197, 3, 64, SoftmaxKind::kLog2, 4, rng), b = attention(65, 2, 17, SoftmaxKind::kUniform, 8, rng);
  std::thread other([&] { for (uint32_t s = 0; s < 4; ++s) check_attention(b, Fill::kRandom, 500 + s); });
  for (uint32_t s = 0; s < 4; ++s) check_attention(a, Fill::kRandom, 600 + s);
  other.join();
}

GeluParams gelu_table(int64_t channels, std::mt19937& rng) {
  lower::WeightCodes fc1;
  fc1.name = "fc1";
  fc1.out = 1, fc1.in = 1;
  fc1.scale = {1.0};
  lower::ActQuant in, out;
  in.scale = {1.0};
  out.scale = {log_uniform(rng, 0.005, 0.1)};
  out.zero_point = static_cast<int32_t>(std::llround(0.17 / out.scale[0])) + 1;
  out.point = "mlp.qact1";
  GeluParams p = lower::gelu_params(fc1, in, out, "test");
  p.channels = channels;
  p.to_h.clear();
  for (int64_t c = 0; c < channels; ++c) p.to_h.push_back(mult((c % 5 == 0 ? -1 : 1) * log_uniform(rng, 1e-4, 4.0)));
  // Every other table: per-channel rounding offsets carrying a bias fraction f in [-1/2, 1/2] (fixed_multiplier.h).
  if (channels % 2 == 1) {
    std::uniform_real_distribution<double> f(-0.5, 0.5);
    for (const FixedMultiplier& m : p.to_h) {
      p.to_h_rounding_offset.push_back(static_cast<int32_t>(std::llround(f(rng) * static_cast<double>(m.mantissa_q31))));
    }
  }
  return p;
}

TEST_F(Avx512Kernels, GeluEqualsReference) {
  std::mt19937 rng(21);
  for (const int64_t c : {1, 3, 15, 16, 17, 33, 768, 769}) {
    const GeluParams packed = gelu_table(c, rng);
    ASSERT_GE(packed.bucket_code.size(), 4u) << "the fast kernel's table path";
    ASSERT_EQ(packed.bucket_packed.size(), packed.bucket_code.size()) << "the one-gather form";
    GeluParams unpacked = packed;
    unpacked.bucket_packed.clear();  // the three-gather form
    for (const GeluParams& p : {packed, unpacked}) {
      for (const int64_t rows : {1, 2, 7}) {
        std::vector<int32_t> acc(static_cast<size_t>(rows * c));
        std::uniform_int_distribution<int32_t> wide(INT32_MIN, INT32_MAX), near(-(1 << 22), 1 << 22);
        for (size_t i = 0; i < acc.size(); ++i) acc[i] = i % 11 == 0 ? wide(rng) : (i % 13 == 0 ? (i % 2 ? INT32_MAX : INT32_MIN) : near(rng));
        std::vector<uint8_t> want(acc.size()), got(acc.size());
        gelu_ref(p, acc.data(), rows, want.data());
        kernels::gelu_avx512(p, acc.data(), rows, got.data());
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << "channels " << c << " rows " << rows << " element " << i << " acc " << acc[i]
                                     << " buckets " << p.bucket_code.size() << " shift " << p.bucket_shift
                                     << " packed " << p.bucket_packed.size();
        }
      }
    }
  }
}

// fc1 + GELU in one pass (the GEMM's lookup epilogue) against gemm_u8s8s32_ref then gelu_ref, on the path in use
// (VNNI here), the reference GEMM path and, for tables without a packed form, the two-pass fallback: M, N, K around
// the micro-tile (6 rows, 64 channels) and block sizes, ViT-Tiny's 197 x 768 x 192, codes at the extremes, biases
// that push h past both ends of the table.
TEST_F(Avx512Kernels, LinearGeluEqualsGemmThenGeluReference) {
  std::mt19937 rng(22);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  std::uniform_int_distribution<int32_t> bias_value(-(1 << 20), 1 << 20);
  const GemmIsa original = gemm_isa_in_use();
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape sh : {Shape{1, 1, 1}, Shape{5, 17, 3}, Shape{6, 64, 64}, Shape{7, 65, 65}, Shape{13, 768, 192},
                         Shape{197, 768, 192}, Shape{31, 1536, 384}, Shape{2, 33, 1031}}) {
    GeluParams packed = gelu_table(sh.n, rng);
    GeluParams unpacked = packed;
    unpacked.bucket_packed.clear();
    std::vector<int8_t> w(static_cast<size_t>(sh.n * sh.k));
    for (auto& v : w) v = static_cast<int8_t>(s8(rng));
    std::vector<int32_t> bias(static_cast<size_t>(sh.n));
    for (auto& b : bias) b = bias_value(rng);
    for (const Fill fill : kFills) {
      const std::vector<uint8_t> a = codes(sh.m * sh.k, fill, rng);
      std::vector<int32_t> acc(static_cast<size_t>(sh.m * sh.n));
      gemm_u8s8s32_ref(sh.m, sh.n, sh.k, a.data(), sh.k, w.data(), bias.data(), acc.data(), sh.n);
      std::vector<uint8_t> want(acc.size());
      gelu_ref(packed, acc.data(), sh.m, want.data());
      for (const GemmIsa isa : {GemmIsa::kAvx512Vnni, GemmIsa::kRef}) {
        force_gemm_isa(isa);
        const PackedWeights pw(w.data(), sh.n, sh.k);
        for (const GeluParams* p : {&packed, &unpacked}) {
          std::vector<uint8_t> got(acc.size(), 0xAB);
          linear_gelu(pw, sh.m, a.data(), sh.k, bias.data(), *p, got.data());
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(got[i], want[i]) << "M " << sh.m << " N " << sh.n << " K " << sh.k << " path "
                                       << gemm_isa_name(isa) << " packed " << p->bucket_packed.size() << " fill "
                                       << static_cast<int>(fill) << " element " << i << " acc " << acc[i];
          }
        }
      }
      force_gemm_isa(original);
    }
  }
}

TEST_F(Avx512Kernels, ResidualAddEqualsReference) {
  std::mt19937 rng(31);
  std::uniform_int_distribution<int32_t> mantissa(1 << 30, INT32_MAX), exponent(-12, 2), u8(0, 255);
  for (const int64_t c : {1, 7, 8, 9, 16, 17, 192, 193}) {
    ResidualAddParams p;
    p.channels = c;
    p.a_zero_point = u8(rng), p.b_zero_point = u8(rng), p.out_zero_point = u8(rng);
    for (int64_t i = 0; i < c; ++i) {
      const int32_t e = exponent(rng);
      p.a_multiplier.push_back({(i % 3 == 0 ? -1 : 1) * mantissa(rng), e});
      p.b_multiplier.push_back({mantissa(rng), e});
    }
    for (const Fill fill : kFills) {
      for (const int64_t rows : {1, 3, 17}) {
        const std::vector<uint8_t> a = codes(rows * c, fill, rng), b = codes(rows * c, Fill::kRandom, rng);
        std::vector<uint8_t> want(a.size()), got(a.size());
        residual_add_ref(p, a.data(), b.data(), rows, want.data());
        kernels::residual_add_avx512(p, a.data(), b.data(), rows, got.data());
        for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "channels " << c << " rows " << rows << " element " << i;
      }
    }
  }
}


// Per-channel gamma (some negative, some zero, outliers 100x), beta (some beyond the split form's 2^45 / 2^32
// limit, which sends such rows to the reference, and within the fast form's 2^61 / 2^32), PTF shifts 0..3, the
// reference's 8-bit M and the 24-bit M with eps. tests/kernels/layer_norm_fast_test.cc covers the fast form itself.
LayerNormParams layer_norm_random(int64_t c, int bits, bool wide_beta, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255), shift(0, 3);
  LayerNormParams p;
  p.channels = c;
  p.in_zero_point = u8(rng);
  p.multiplier_bits = bits;
  p.variance_epsilon = bits == 24 ? static_cast<int64_t>(log_uniform(rng, 1, 1e6)) : 0;
  p.out_zero_point = u8(rng);
  for (int64_t i = 0; i < c; ++i) {
    p.in_shift.push_back(static_cast<uint8_t>(i % 3 == 0 ? shift(rng) : 0));
    const double gamma = (i % 7 == 3 ? -1 : 1) * log_uniform(rng, 0.5, 200) * (i % 29 == 0 ? 100 : 1);
    p.gamma.push_back(i % 31 == 17 ? FixedMultiplier{} : mult(gamma));
    const double beta = std::uniform_real_distribution<double>(-40, 40)(rng) * (wide_beta && i % 5 == 0 ? 1e5 : 1);
    p.beta_q32.push_back(std::llround(std::ldexp(beta, 32)));
    p.zero_variance_code.push_back(static_cast<uint8_t>(std::clamp<long>(std::lround(beta) + p.out_zero_point, 0, 255)));
  }
  return p;
}

TEST_F(Avx512Kernels, LayerNormEqualsReference) {
  std::mt19937 rng(41);
  for (const int64_t c : {1, 2, 7, 8, 9, 15, 16, 17, 192, 193, 384, 768, 4096}) {
    for (const int bits : {8, 24}) {
      for (const bool wide_beta : {false, true}) {
        const LayerNormParams p = layer_norm_random(c, bits, wide_beta, rng);
        for (const Fill fill : kFills) {
          const int64_t rows = c >= 768 ? 3 : 9;
          std::vector<uint8_t> q = codes(rows * c, fill, rng);
          if (rows > 1) std::fill(q.begin(), q.begin() + c, static_cast<uint8_t>(p.in_zero_point));  // D = 0 row
          std::vector<uint8_t> want(q.size()), got(q.size());
          layer_norm_ref(p, q.data(), rows, want.data());
          kernels::layer_norm_avx512(p, q.data(), rows, got.data());
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(got[i], want[i]) << "channels " << c << " bits " << bits << " wide beta " << wide_beta
                                       << " fill " << static_cast<int>(fill) << " row " << i / c << " channel " << i % c
                                       << " gamma " << p.gamma[i % c].mantissa_q31 << "*2^" << p.gamma[i % c].exponent;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace fqvit
