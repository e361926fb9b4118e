// The requantization rule every GEMM path fuses (quant/fixed_multiplier.h: round half up of the exact product
// x * mantissa_q31 * 2^(exponent - 31)), against hand-computed values and against exact 128-bit rational
// arithmetic, so that the reference kernels the fast paths are compared with are themselves pinned down.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
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

// With a rounding offset carrying a fraction f of an accumulator unit (the lowering's bias fractions): the result
// is (x + f) * real rounded half up, to within the 2^-s the offset is rounded to. Hand-computed, then exact
// arithmetic.
TEST(RequantizeClosedForm, RoundingOffsetCarriesAFractionOfAnAccumulatorUnit) {
  // real 0.5, s = 31: (3 + 0.25) * 0.5 = 1.625 -> 2; (3 - 0.25) * 0.5 = 1.375 -> 1; (2 + 0.5) * 0.5 = 1.25 -> 1
  const FixedMultiplier half{kHalf, 0};
  EXPECT_EQ(apply_multiplier(3, half, kHalf / 4), 2);
  EXPECT_EQ(apply_multiplier(3, half, -kHalf / 4), 1);
  EXPECT_EQ(apply_multiplier(2, half, kHalf / 2), 1);
  EXPECT_EQ(apply_multiplier(1, half, -kHalf / 2), 0);  // 0.25 -> 0 (without the fraction: 0.5 -> 1)
  EXPECT_EQ(requantize(-1000, {kHalf, -3}, kHalf / 2, 10, 0, 255), 0);
  EXPECT_EQ(apply_multiplier(7, half, 0), apply_multiplier(7, half));  // offset 0: the plain rule
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX), mant(1 << 30, INT32_MAX);
  std::uniform_int_distribution<int64_t> fraction(-(int64_t{1} << 30), int64_t{1} << 30);  // f * 2^31
  for (int exponent = -31; exponent <= 30; ++exponent) {
    for (int i = 0; i < 1000; ++i) {
      const int32_t x = any(rng);
      const FixedMultiplier m{i % 2 ? mant(rng) : -mant(rng), exponent};
      const int s = 31 - exponent;
      const int64_t f31 = fraction(rng);  // f = f31 / 2^31, |f| <= 1/2
      // (x + f) * mantissa / 2^s rounded half up, in 128 bits: floor(((x 2^31 + f31) m + 2^(s + 30)) / 2^(s + 31))
      const Int128 num = (static_cast<Int128>(x) * (Int128{1} << 31) + f31) * m.mantissa_q31 + (Int128{1} << (s + 30));
      const Int128 den = Int128{1} << (s + 31);
      Int128 q = num / den;
      if (num % den != 0 && num < 0) --q;
      // The offset is f * mantissa rounded to an integer (error <= 1/2 of 2^-s, i.e. 2^30 in num's units): the
      // result is q, or a neighbour when the exact value lies that close to the rounding boundary.
      const auto offset = static_cast<int32_t>((static_cast<Int128>(f31) * m.mantissa_q31 + (Int128{1} << 30)) >> 31);
      const int64_t got = apply_multiplier(x, m, offset);
      const Int128 above = num - q * den;  // in [0, den)
      const bool near = above <= (Int128{1} << 30) || den - above <= (Int128{1} << 30);
      ASSERT_TRUE(got == static_cast<int64_t>(q) || (near && std::abs(got - static_cast<int64_t>(q)) == 1))
          << "x=" << x << " mantissa=" << m.mantissa_q31 << " exponent=" << exponent << " f31=" << f31;
    }
  }
}

}  // namespace
}  // namespace fqvit
