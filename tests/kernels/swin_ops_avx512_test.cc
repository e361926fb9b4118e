// Swin's AVX-512 kernels (src/kernels/x86/swin_*_avx512.cc) against their reference kernels (src/kernels/ref/
// swin_ref.cc), bit for bit: every element compared with ASSERT_EQ over edge shapes (windows of 1 to 12 tokens a side,
// so N^2 and N around the 8 / 16 / 64 lane blocks; heads 1 to 3; windows the shift cuts at the grid's border and
// random region labels; rows 1 byte to 1536 bytes wide; 1 to 3136 tokens) and nasty data (codes at 0 / 255, masked
// logits at the top of the range, bias terms at +-255 times the largest mantissa), and the same problems on two
// threads at once. Skipped on a CPU without AVX-512 VNNI.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/swin_ops.h"
#include "fqvit/lower/lower.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/swin_x86.h"
#include "lower/lower_ops.h"
#include "lower/lower_swin.h"

namespace fqvit {
namespace {

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "test", "multiplier"); }

double log_uniform(std::mt19937& rng, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

// A window attention problem of win x win tokens: random zero points, multipliers, bias table and softmax constants.
SwinAttentionParams problem(int64_t win, int64_t heads, SoftmaxKind kind, int bits, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255);
  SwinAttentionParams p;
  AttentionParams& a = p.attention;
  const int64_t n = win * win;
  a.tokens = n, a.heads = heads, a.head_dim = 8;
  a.softmax = kind;
  const double s = log_uniform(rng, 0.01, 0.5);
  if (kind == SoftmaxKind::kLog2) {
    a.exp = lower::int_exp_params(s, 30);
    for (int d = 0; d < 256; ++d) a.exp_table.push_back(int_exp(-d, a.exp));
    a.log2_bits = bits;
  } else {
    for (int d = 0; d < 256; ++d) a.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-s * d), 30))));
    a.prob_reciprocal_q16 = 65536 * 255;
    a.prob_zero_point = u8(rng) % 16;
    a.prob_lo = 0, a.prob_hi = 255;
  }
  p.a_zero_point = u8(rng);
  const double ra = log_uniform(rng, 0.05, 4), rt = log_uniform(rng, 0.05, 4);
  const FixedMultiplier big = mult(std::max(ra, rt));
  p.a_multiplier = fixed_multiplier_with_exponent(ra, big.exponent, "test", "a");
  const FixedMultiplier mt = fixed_multiplier_with_exponent(rt, big.exponent, "test", "t");
  for (int64_t i = 0; i < heads * n * n; ++i) p.bias.push_back(int64_t{u8(rng) - u8(rng)} * mt.mantissa_q31);
  p.biased_zero_point = u8(rng);
  p.biased_lo = 0, p.biased_hi = 255;
  return p;
}

std::vector<uint8_t> random_codes(int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255);
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<uint8_t>(u8(rng));
  return v;
}

std::string describe(const SwinAttentionParams& p) {
  const AttentionParams& a = p.attention;
  return "N " + std::to_string(a.tokens) + " heads " + std::to_string(a.heads) +
         (a.softmax == SoftmaxKind::kLog2 ? " log2 bits " + std::to_string(a.log2_bits) : std::string(" uniform"));
}

void check_bias(const SwinAttentionParams& p, const std::vector<uint8_t>& a, const std::string& what) {
  const int64_t square = p.attention.tokens * p.attention.tokens;
  std::vector<uint8_t> want(static_cast<size_t>(square)), got(want.size());
  for (int64_t h = 0; h < p.attention.heads; ++h) {
    swin_bias_logits_ref(p, h, a.data(), want.data());
    kernels::swin_bias_logits_avx512(p, h, a.data(), got.data());
    for (int64_t i = 0; i < square; ++i) {
      ASSERT_EQ(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)]) << what << " head " << h << " at " << i;
    }
  }
}

// Every window of `p` (its region labels set) with `logits` [windows][N][N].
void check_masked_softmax(const SwinAttentionParams& p, const std::vector<uint8_t>& logits, const std::string& what) {
  const int64_t n = p.attention.tokens;
  std::vector<uint8_t> want(static_cast<size_t>(n * n)), got(want.size());
  std::vector<int32_t> exp_ref(static_cast<size_t>(n)), exp(static_cast<size_t>(n));
  for (int64_t w = 0; w < p.windows; ++w) {
    const uint8_t* l = logits.data() + w * n * n;
    swin_masked_softmax_ref(p, w, l, exp_ref.data(), want.data());
    kernels::swin_masked_softmax_avx512(p, w, l, exp.data(), got.data());
    for (int64_t i = 0; i < n * n; ++i) {
      ASSERT_EQ(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)])
          << what << " window " << w << " row " << i / n << " col " << i % n
          << (p.masked(w, i / n, i % n) ? " (masked)" : "");
    }
  }
}

class SwinAvx512 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::cpu_has_avx512_vnni()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  }
};

TEST_F(SwinAvx512, BiasAddEqualsReferenceOnEveryWindowSizeAndAtTheBounds) {
  std::mt19937 rng(5);
  for (const int64_t win : {1, 2, 3, 4, 5, 7, 8, 12}) {
    for (const int64_t heads : {1, 3}) {
      SwinAttentionParams p = problem(win, heads, SoftmaxKind::kLog2, 4, rng);
      const int64_t square = win * win * win * win;
      check_bias(p, random_codes(square, rng), describe(p) + " random");
      // Extremes: codes 0 / 255 against zero points at the far end, table terms +-255 times the largest mantissa.
      for (const int side : {0, 1}) {
        p.a_zero_point = side ? 0 : 255;
        p.a_multiplier.mantissa_q31 = 2147483647;
        for (auto& b : p.bias) b = (side ? 255 : -255) * int64_t{2147483647};
        check_bias(p, std::vector<uint8_t>(static_cast<size_t>(square), side ? 255 : 0),
                   describe(p) + " extreme " + std::to_string(side));
      }
      // Ties: m_a = 1/2 and table terms of whole halves put many sums exactly on .5 (rounded half up).
      p.a_multiplier = fixed_multiplier_with_exponent(0.5, 0, "test", "a");
      p.a_zero_point = 128;
      std::uniform_int_distribution<int> small(-40, 40);
      for (auto& b : p.bias) b = int64_t{small(rng)} << 30;
      check_bias(p, random_codes(square, rng), describe(p) + " ties");
    }
  }
}

TEST_F(SwinAvx512, MaskedSoftmaxEqualsReferenceOnCutWindowsAndRandomRegions) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> u8(0, 255);
  for (const SoftmaxKind kind : {SoftmaxKind::kLog2, SoftmaxKind::kUniform}) {
    for (const int bits : {2, 4}) {
      if (kind == SoftmaxKind::kUniform && bits != 4) continue;
      for (const int64_t win : {2, 3, 4, 5, 7, 8, 12}) {
        SwinAttentionParams p = problem(win, 1, kind, bits, rng);
        const int64_t n = win * win;
        // Windows the official shift cuts at the border: a 3 x 3 grid of windows, shifts 1 .. win - 1.
        for (int64_t shift = 1; shift < win; shift += (win > 4 ? win / 2 : 1)) {
          p.region = lower::swin_regions(3 * win, win, shift);
          p.windows = 9;
          for (const int fill : {0, 1, 2}) {
            std::vector<uint8_t> logits = random_codes(p.windows * n * n, rng);
            for (int64_t w = 0; w < p.windows; ++w) {
              for (int64_t ij = 0; ij < n * n; ++ij) {
                uint8_t& v = logits[static_cast<size_t>(w * n * n + ij)];
                if (fill == 1 && p.masked(w, ij / n, ij % n)) v = 255;  // masked logits on top: never the maximum
                if (fill == 2) v = p.masked(w, ij / n, ij % n) ? 0 : 255;
              }
            }
            check_masked_softmax(p, logits, describe(p) + " shift " + std::to_string(shift) + " fill " +
                                                std::to_string(fill));
          }
        }
        // Random labels (any partition of a window's tokens), some rows alone in their region.
        p.windows = 3;
        p.region.clear();
        for (int64_t i = 0; i < p.windows * n; ++i) p.region.push_back(static_cast<uint8_t>(u8(rng) % (i % 2 ? 9 : 2)));
        check_masked_softmax(p, random_codes(p.windows * n * n, rng), describe(p) + " random regions");
      }
    }
  }
}

TEST_F(SwinAvx512, WindowSoftmaxRowsEqualReference) {
  std::mt19937 rng(21);
  for (const SoftmaxKind kind : {SoftmaxKind::kLog2, SoftmaxKind::kUniform}) {
    for (const int bits : {2, 3, 4}) {
      if (kind == SoftmaxKind::kUniform && bits != 4) continue;
      for (const int64_t win : {1, 2, 3, 4, 5, 7, 8, 12}) {
        const SwinAttentionParams p = problem(win, 1, kind, bits, rng);
        const int64_t n = win * win;
        for (const int fill : {0, 1}) {
          std::vector<uint8_t> logits = random_codes(n * n, rng);
          if (fill == 1) logits.assign(logits.size(), 255);
          std::vector<uint8_t> want(logits.size()), got(logits.size());
          std::vector<int32_t> exp(static_cast<size_t>(n));
          swin_softmax_rows_ref(p, logits.data(), exp.data(), want.data());
          kernels::swin_softmax_rows_avx512(p, logits.data(), exp.data(), got.data());
          ASSERT_EQ(got, want) << describe(p) << " fill " << fill;
        }
      }
    }
  }
}

TEST_F(SwinAvx512, GatherEqualsReferenceOnEveryRowWidth) {
  std::mt19937 rng(13);
  for (const int64_t code_bytes : {1, 2}) {
    for (const int64_t cols : {1, 3, 31, 32, 33, 63, 64, 65, 96, 191, 768}) {
      for (const int64_t group : {1, 4}) {
        RowGatherParams p;
        p.in_rows = 37, p.out_rows = group == 1 ? 37 : 9, p.cols = cols, p.group = group, p.code_bytes = code_bytes;
        std::uniform_int_distribution<int32_t> row(0, static_cast<int32_t>(p.in_rows - 1));
        for (int64_t r = 0; r < p.out_rows * group; ++r) p.source.push_back(row(rng));
        const std::vector<uint8_t> in = random_codes(p.in_rows * p.row_bytes(), rng);
        // Guard bytes after the output: the masked tail must not write past the last row.
        const size_t out_bytes = static_cast<size_t>(p.out_rows * group * p.row_bytes());
        std::vector<uint8_t> want(out_bytes + 64, 0xA5), got(out_bytes + 64, 0xA5);
        gather_rows_ref(p, in.data(), want.data());
        kernels::gather_rows_avx512(p, in.data(), got.data());
        ASSERT_EQ(got, want) << "cols " << cols << " x " << code_bytes << " bytes, group " << group;
      }
    }
  }
}

TEST_F(SwinAvx512, TokenMeansEqualReferenceAtTheSumsBounds) {
  const GemmIsa initial = gemm_isa_in_use();
  force_gemm_isa(GemmIsa::kAvx512Vnni);
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> u8(0, 255);
  for (const int64_t tokens : {1, 49, 3136}) {
    for (const int64_t channels : {1, 15, 16, 17, 96, 768}) {
      for (const int fill : {0, 1, 2}) {
        std::vector<uint8_t> in = random_codes(tokens * channels, rng);
        if (fill > 0) in.assign(in.size(), fill == 1 ? 0 : 255);
        const int32_t zp = fill == 1 ? 255 : (fill == 2 ? 0 : u8(rng));
        TokenMeanParams p;
        p.tokens = tokens, p.channels = channels, p.in_zero_point = zp;
        p.multiplier = mult(log_uniform(rng, 0.1, 4) / static_cast<double>(tokens));
        p.out_zero_point = u8(rng);
        std::vector<uint8_t> want(static_cast<size_t>(channels)), got(want.size());
        token_mean_ref(p, in.data(), want.data());
        token_mean(p, in.data(), got.data());
        ASSERT_EQ(got, want) << "tokens " << tokens << " channels " << channels << " fill " << fill;
        TokenMeanChannelParams q;
        q.tokens = tokens, q.channels = channels, q.in_zero_point = zp, q.lo = 0, q.hi = 255;
        for (int64_t c = 0; c < channels; ++c) {
          q.multiplier.push_back(mult(log_uniform(rng, 0.1, 4) / static_cast<double>(tokens)));
          q.out_zero_point.push_back(u8(rng));
        }
        token_mean_channel_ref(q, in.data(), want.data());
        token_mean_channel(q, in.data(), got.data());
        ASSERT_EQ(got, want) << "per channel: tokens " << tokens << " channels " << channels << " fill " << fill;
      }
    }
  }
  force_gemm_isa(initial);
}

TEST_F(SwinAvx512, BiasAddAndMaskedSoftmaxOnTwoThreadsEqualReference) {
  auto run = [](uint32_t seed) {
    std::mt19937 rng(seed);
    for (int round = 0; round < 4; ++round) {
      SwinAttentionParams p = problem(7, 2, round % 2 ? SoftmaxKind::kUniform : SoftmaxKind::kLog2, 4, rng);
      p.region = lower::swin_regions(21, 7, 3);
      p.windows = 9;
      check_bias(p, random_codes(49 * 49, rng), "thread " + std::to_string(seed));
      check_masked_softmax(p, random_codes(9 * 49 * 49, rng), "thread " + std::to_string(seed));
    }
  };
  std::thread other(run, 101u);
  run(202u);
  other.join();
}

}  // namespace
}  // namespace fqvit
