// Extension "lis_logits": "refined" (docs/quantization.md 11.11): i-exp on the logit codes times 2^m. The reference's
// i-exp degenerates on 4-bit logit scales (c = 0: every weight exactly zero); the refined one gives the log2 codes of
// the exact softmax of the same codes, and the integer engine's table (the lowering's attention_params into
// softmax_row_ref) gives the fake-quant emulation's codes.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/kernels/int_ops.h"
#include "fqvit/quant/log_int_softmax.h"
#include "lower/lower_ops.h"

namespace fqvit {
namespace {

// 4-bit logits as a W4A4 calibration fits them (ViT-Tiny, demo ViT: S ~ 2, zero point ~ 7).
constexpr float kLogitScale = 1.93146f;
constexpr int32_t kLogitZeroPoint = 7;
constexpr int64_t kTokens = 65;
constexpr int kRows = 400;
// The refined i-exp's worst error on its grid is ~0.16 in log2 (docs 11.11): a code at a log_round boundary may flip
// by one against the exact softmax.
constexpr double kExactMinAgreement = 0.99;  // measured 99.8%
// The emulation's n = 30 (float32) against the integer engine's int32-safe n (16 or 17 here): the same i-exp up to
// the floor of z 2^(n - q) and float32 sums.
constexpr double kEngineMinAgreement = 0.999;  // measured 100%

// log_round(sum / e) of the exact softmax in double, clamped at the zero code 2^bits.
int exact_code(double p, int bits) {
  const double v = std::nearbyint(1.0 / p);
  if (!(v < 1e18)) return 1 << bits;
  const auto u = static_cast<uint64_t>(v);
  int k = static_cast<int>(std::bit_width(u)) - 1;
  if (2 * (u - (uint64_t{1} << k)) >= (uint64_t{1} << k)) ++k;
  return std::min(k, 1 << bits);
}

std::vector<uint8_t> random_codes(std::mt19937& rng, int64_t n) {
  std::uniform_int_distribution<int> code(0, 15);
  std::vector<uint8_t> q(static_cast<size_t>(n));
  for (auto& v : q) v = static_cast<uint8_t>(code(rng));
  return q;
}

TEST(LisRefinedLogits, ShiftFromTheScale) {
  const LisParams refined{4, 30, true};
  EXPECT_EQ(lis_logit_shift(2.0f, LisParams{4, 30, false}), 0);
  // c(S) = floor(1 / (0.358 S^2)): S = 2 2^-7 = 1/64 gives 11436 < 2^15, one more halving 45744.
  EXPECT_EQ(lis_logit_shift(2.0f, refined), 7);
  EXPECT_LT(lis_exp_constant(2.0f / 128), kLisRefinedMaxC);
  EXPECT_GE(lis_exp_constant(2.0f / 256), kLisRefinedMaxC);
  EXPECT_EQ(lis_exp_constant(2.0f), 0);  // the reference's i-exp: no positive value
  EXPECT_EQ(lis_logit_shift(0.005f, refined), 0);  // already that fine: c = 111685
}

TEST(LisRefinedLogits, ReferenceDegeneratesRefinedIsTheExactSoftmax) {
  std::mt19937 rng(13);
  int64_t agree = 0, total = 0, reference_zero = 0;
  std::vector<float> x(kTokens);
  std::vector<uint8_t> ref(kTokens), fine(kTokens);
  for (int r = 0; r < kRows; ++r) {
    const std::vector<uint8_t> q = random_codes(rng, kTokens);
    for (int64_t j = 0; j < kTokens; ++j) x[j] = kLogitScale * static_cast<float>(int{q[j]} - kLogitZeroPoint);
    lis_codes(x.data(), 1, kTokens, kLogitScale, LisParams{4, 30, false}, ref.data());
    lis_codes(x.data(), 1, kTokens, kLogitScale, LisParams{4, 30, true}, fine.data());
    double sum = 0;
    const int qmax = *std::max_element(q.begin(), q.end());
    for (uint8_t v : q) sum += std::exp(static_cast<double>(kLogitScale) * (int{v} - qmax));
    for (int64_t j = 0; j < kTokens; ++j) {
      reference_zero += ref[j] == lis_zero_code(4);
      const int want = exact_code(std::exp(static_cast<double>(kLogitScale) * (int{q[j]} - qmax)) / sum, 4);
      ASSERT_LE(std::abs(int{fine[j]} - want), 1) << "row " << r << " token " << j;
      agree += fine[j] == want, ++total;
    }
  }
  EXPECT_EQ(reference_zero, total) << "the reference's i-exp at S ~ 2 has c = 0: every weight exactly zero";
  EXPECT_GE(static_cast<double>(agree) / static_cast<double>(total), kExactMinAgreement);
}

lower::ActQuant lis_quant(bool refine) {
  lower::ActQuant probs;
  probs.kind = "lis", probs.bits = 4, probs.exp_shift = 30, probs.refine_logits = refine;
  probs.point = "blocks.0.attn.log_int_softmax";
  return probs;
}

TEST(LisRefinedLogits, IntegerTableIsTheEmulation) {
  lower::ActQuant qkv, logits, probs = lis_quant(true), out;
  qkv.scale = {0.05}, qkv.zero_point = 8, qkv.hi = 15, qkv.point = "blocks.0.attn.qact1";
  logits.scale = {kLogitScale}, logits.zero_point = kLogitZeroPoint, logits.hi = 15;
  logits.point = "blocks.0.attn.qact_attn1";
  out.scale = {0.05}, out.zero_point = 8, out.hi = 15, out.point = "blocks.0.attn.qact2";
  const AttentionParams a = lower::attention_params(qkv, logits, probs, out, kTokens, 1, 16, "test");
  ASSERT_EQ(a.logit_shift, 7);
  ASSERT_GE(a.exp.n, 16);
  ASSERT_LT(int64_t{a.exp.c} << a.exp.n, int64_t{1} << 31);
  std::mt19937 rng(14);
  int64_t agree = 0, total = 0;
  std::vector<float> x(kTokens);
  std::vector<uint8_t> fake(kTokens), engine(kTokens);
  std::vector<int32_t> exp(kTokens);
  for (int r = 0; r < kRows; ++r) {
    const std::vector<uint8_t> q = random_codes(rng, kTokens);
    for (int64_t j = 0; j < kTokens; ++j) x[j] = kLogitScale * static_cast<float>(int{q[j]} - kLogitZeroPoint);
    lis_codes(x.data(), 1, kTokens, kLogitScale, LisParams{4, 30, true}, fake.data());
    softmax_row_ref(a, q.data(), exp.data(), engine.data());
    for (int64_t j = 0; j < kTokens; ++j) {
      ASSERT_LE(std::abs(int{engine[j]} - int{fake[j]}), 1) << "row " << r << " token " << j;
      agree += engine[j] == fake[j], ++total;
    }
  }
  EXPECT_GE(static_cast<double>(agree) / static_cast<double>(total), kEngineMinAgreement);
}

// Without the extension the lowering refuses 4-bit logit scales with one line naming the field and the way out.
TEST(LisRefinedLogits, ReferenceIExpOnCoarseLogitsIsRefused) {
  lower::ActQuant qkv, logits, out;
  qkv.scale = {0.05}, qkv.hi = 15, out.scale = {0.05}, out.hi = 15;
  logits.scale = {kLogitScale}, logits.zero_point = kLogitZeroPoint, logits.hi = 15;
  logits.point = "blocks.0.attn.qact_attn1";
  try {
    lower::attention_params(qkv, logits, lis_quant(false), out, kTokens, 1, 16, "q.safetensors");
    FAIL() << "a 4-bit logit scale lowered with the reference's i-exp";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("q.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("qact_attn1.scale"), std::string::npos) << m;
    EXPECT_NE(m.find("lis_logits"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace fqvit
