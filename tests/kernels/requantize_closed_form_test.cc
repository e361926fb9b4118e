// The requantization rule every GEMM path fuses (quant/fixed_multiplier.h: round half up of the exact product
// x * mantissa_q31 * 2^(exponent - 31)), against hand-computed values and against exact 128-bit rational
// arithmetic, so that the reference kernels the fast paths are compared with are themselves pinned down.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "fqvit/quant/fixed_multiplier.h"

namespace fqvit {
namespace {

constexpr int32_t kHalf = 1 << 30;  // mantissa of 0.5 at exponent 0

TEST(RequantizeClosedForm, HandComputedValues) {
  // 0.5 = 2^30 * 2^(0 - 31)
  EXPECT_EQ(apply_multiplier(3, {kHalf, 0}), 2);    // 1.5 -> 2 (half up)
  EXPECT_EQ(apply_multiplier(-3, {kHalf, 0}), -1);  // -1.5 -> -1 (half up is toward +infinity)
  EXPECT_EQ(apply_multiplier(5, {kHalf, -1}), 1);   // 1.25 -> 1
  EXPECT_EQ(apply_multiplier(7, {kHalf, -1}), 2);   // 1.75 -> 2
  EXPECT_EQ(apply_multiplier(-7, {kHalf, -1}), -2);
  EXPECT_EQ(apply_multiplier(100, {-kHalf, 0}), -50);
  EXPECT_EQ(apply_multiplier(123456, {0, 0}), 0);
  EXPECT_EQ(apply_multiplier(1, {kHalf, 30}), int64_t{1} << 29);  // 0.5 * 2^30
  EXPECT_EQ(apply_multiplier(INT32_MIN, {INT32_MAX, 30}), -(int64_t{INT32_MAX} << 30));
  EXPECT_EQ(apply_multiplier(1 << 30, {kHalf, -31}), 0);  // 2^30 * 2^-32 = 0.25 -> 0
  EXPECT_EQ(requantize(1000, {kHalf, -3}, 10, 0, 255), 10 + 63);   // 62.5 -> 63, + zero point
  EXPECT_EQ(requantize(-1000, {kHalf, -3}, 10, 0, 255), 0);        // -52.5 -> -52, + 10, clamped to 0
  EXPECT_EQ(requantize(INT32_MAX, {INT32_MAX, 30}, 0, 0, 255), 255);  // the int64 result clamps, never wraps
}

__extension__ using Int128 = __int128;  // a GCC / Clang extension (-Wpedantic)

// floor((x * m + 2^(s - 1)) / 2^s) in 128-bit arithmetic, written independently of the header's int64 code.
int64_t exact_round_half_up(int32_t x, FixedMultiplier m) {
  const int s = 31 - m.exponent;
  const Int128 num = static_cast<Int128>(x) * m.mantissa_q31 + (static_cast<Int128>(1) << (s - 1));
  const Int128 den = static_cast<Int128>(1) << s;
  Int128 q = num / den;  // truncates toward zero
  if (num % den != 0 && num < 0) --q;
  return static_cast<int64_t>(q);
}

TEST(RequantizeClosedForm, MatchesExactArithmeticOverTheExponentRange) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX), mant(1 << 30, INT32_MAX);
  for (int exponent = -31; exponent <= 30; ++exponent) {
    for (int i = 0; i < 2000; ++i) {
      const int32_t x = i % 10 == 0 ? (i % 20 == 0 ? INT32_MIN : INT32_MAX) : any(rng);
      const FixedMultiplier m{i % 2 ? mant(rng) : -mant(rng), exponent};
      ASSERT_EQ(apply_multiplier(x, m), exact_round_half_up(x, m)) << "x=" << x << " mantissa=" << m.mantissa_q31
                                                                    << " exponent=" << exponent;
    }
  }
}

}  // namespace
}  // namespace fqvit
