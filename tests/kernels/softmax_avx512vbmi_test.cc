// The gather-free softmax (src/kernels/x86/softmax_avx512vbmi.cc) and the gather form it replaces against
// softmax_row_ref, every code compared: rows of nasty logits (all 0, all 255, one 255 among zeros, alternating
// extremes, random) at token counts around the 64-code chunks, on the lowering's i-exp tables (which must take the
// fast form), on synthetic tables that reach every byte plane (entries near 2^31) or keep every entry above the
// later thresholds (D_j = 256), on a non-increasing-violating table (the gather form), and on the uniform form's
// quotient limits. Skipped on a CPU without AVX-512 VBMI.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fqvit/kernels/int_ops.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/int_ops_x86.h"
#include "lower/lower_ops.h"

namespace fqvit {
namespace {

constexpr int64_t kTokenCounts[] = {1, 2, 17, 63, 64, 65, 127, 128, 129, 197, 256};

std::vector<std::vector<uint8_t>> nasty_rows(int64_t t, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255), narrow(100, 140);
  std::vector<std::vector<uint8_t>> rows(6, std::vector<uint8_t>(static_cast<size_t>(t)));
  for (int64_t s = 0; s < t; ++s) {
    const auto i = static_cast<size_t>(s);
    rows[0][i] = 0;
    rows[1][i] = 255;
    rows[2][i] = s == t / 2 ? 255 : 0;  // one key takes everything, the rest at d = 255
    rows[3][i] = s % 2 ? 255 : 0;
    rows[4][i] = static_cast<uint8_t>(u8(rng));
    rows[5][i] = static_cast<uint8_t>(narrow(rng));
  }
  return rows;
}

void check_rows(const AttentionParams& p, const std::string& what, bool want_fast, std::mt19937& rng) {
  kernels::SoftmaxLut lut;
  kernels::prepare_softmax_avx512vbmi(p, lut);
  ASSERT_EQ(kernels::softmax_vbmi_supports(p, lut), want_fast) << what;
  const std::vector<std::vector<uint8_t>> rows = nasty_rows(p.tokens, rng);
  std::vector<int32_t> exp(static_cast<size_t>(p.tokens));
  alignas(64) int32_t e_scratch[256];
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<uint8_t> want(rows[r].size()), got(rows[r].size(), 0xAB), gathered(rows[r].size(), 0xAB);
    softmax_row_ref(p, rows[r].data(), exp.data(), want.data());
    if (want_fast) kernels::softmax_rows_avx512vbmi(p, lut, rows[r].data(), p.tokens, 1, e_scratch, got.data(), p.tokens);
    kernels::softmax_row_avx512(p, rows[r].data(), exp.data(), gathered.data());
    for (size_t s = 0; s < want.size(); ++s) {
      if (want_fast) {
        ASSERT_EQ(got[s], want[s]) << what << " T " << p.tokens << " row " << r << " key " << s;
      }
      ASSERT_EQ(gathered[s], want[s]) << what << " gather form, T " << p.tokens << " row " << r << " key " << s;
    }
  }
}

AttentionParams params(int64_t t, SoftmaxKind kind) {
  AttentionParams p;
  p.tokens = t, p.heads = 1, p.head_dim = 1;
  p.softmax = kind;
  return p;
}

class SoftmaxVbmi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::cpu_has_avx512_vbmi()) GTEST_SKIP() << "this CPU has no AVX-512 VBMI";
  }
};

TEST_F(SoftmaxVbmi, Log2CodesEqualReferenceOnTheLoweringsTables) {
  std::mt19937 rng(1);
  for (const double s : {0.004, 0.02, 0.07, 0.2, 0.6, 2.0}) {  // logit scales: slow to fast decay over d
    for (const int bits : {1, 2, 3, 4}) {
      for (const int64_t t : kTokenCounts) {
        AttentionParams p = params(t, SoftmaxKind::kLog2);
        p.log2_bits = bits;
        p.exp = lower::int_exp_params(s, 30);
        for (int d = 0; d < 256; ++d) p.exp_table.push_back(int_exp(-d, p.exp));
        check_rows(p, "i-exp S " + std::to_string(s) + " bits " + std::to_string(bits), true, rng);
      }
    }
  }
}

TEST_F(SoftmaxVbmi, Log2CodesEqualReferenceOnSyntheticTables) {
  std::mt19937 rng(2);
  for (const int64_t t : kTokenCounts) {
    AttentionParams wide = params(t, SoftmaxKind::kLog2);  // every byte plane, entries up to 2^31 - 1
    for (int d = 0; d < 256; ++d) wide.exp_table.push_back(INT32_MAX - d * 0x00800203);
    check_rows(wide, "near 2^31", true, rng);
    AttentionParams flat = params(t, SoftmaxKind::kLog2);  // barely decaying: later D_j = 256
    for (int d = 0; d < 256; ++d) flat.exp_table.push_back(1000000 - d);
    check_rows(flat, "flat", true, rng);
    AttentionParams steps = params(t, SoftmaxKind::kLog2);  // long runs of equal entries, zeros at the end
    for (int d = 0; d < 256; ++d) steps.exp_table.push_back(d >= 200 ? 0 : (1 << 24) >> (d / 12));
    check_rows(steps, "steps", true, rng);
    AttentionParams bump = params(t, SoftmaxKind::kLog2);  // not non-increasing: the gather form
    for (int d = 0; d < 256; ++d) bump.exp_table.push_back((1 << 20) >> (d / 16) | (d == 77 ? 1 << 19 : 0));
    check_rows(bump, "bump", false, rng);
  }
}

TEST_F(SoftmaxVbmi, UniformCodesEqualReferenceAtTheQuotientLimits) {
  std::mt19937 rng(3);
  for (const int64_t t : kTokenCounts) {
    for (const double s : {0.01, 0.1, 1.0}) {
      for (const int64_t reciprocal :
           {int64_t{0}, int64_t{65536} * 17, int64_t{65536} * 255, int64_t{65536} * 1000, (int64_t{1} << 31) - 1}) {
        for (const int32_t zp : {-256, 0, 9}) {
          AttentionParams p = params(t, SoftmaxKind::kUniform);
          for (int d = 0; d < 256; ++d) p.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-s * d), 30))));
          p.prob_reciprocal_q16 = reciprocal;
          p.prob_zero_point = zp;
          p.prob_lo = zp == 9 ? 4 : 0, p.prob_hi = zp == 9 ? 250 : 255;
          check_rows(p, "uniform S " + std::to_string(s) + " R " + std::to_string(reciprocal) + " zp " + std::to_string(zp), true, rng);
        }
      }
    }
    // Rows of equal logits with R = 2^15 T (2 m - 1): N / den = m exactly, the remainder test's equality case.
    for (const int64_t m : {1, 2, 3}) {
      AttentionParams p = params(t, SoftmaxKind::kUniform);
      for (int d = 0; d < 256; ++d) p.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-0.05 * d), 30))));
      p.prob_reciprocal_q16 = 32768 * t * (2 * m - 1);
      check_rows(p, "uniform exact quotient " + std::to_string(m), true, rng);
    }
    AttentionParams wide = params(t, SoftmaxKind::kUniform);  // e up to 2^31 - 1, any order
    std::uniform_int_distribution<int32_t> e(0, INT32_MAX);
    for (int d = 0; d < 256; ++d) wide.exp_table.push_back(d == 0 ? INT32_MAX : e(rng));
    wide.prob_reciprocal_q16 = (int64_t{1} << 31) - 1;
    check_rows(wide, "uniform wide", true, rng);
  }
  AttentionParams beyond = params(257, SoftmaxKind::kUniform);  // past the T <= 256 bound: not the fast form
  beyond.exp_table.assign(256, 1 << 30);
  beyond.prob_reciprocal_q16 = 65536;
  check_rows(beyond, "uniform T 257", false, rng);
}

}  // namespace
}  // namespace fqvit
