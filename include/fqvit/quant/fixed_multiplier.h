// The one requantization type of the integer executor: a real multiplier as a Q31 mantissa and a power of two.
//
//   real multiplier  =  mantissa_q31 * 2^(exponent - 31)
//
// Sign convention (the only one in the project): `exponent` is a LEFT shift of the Q31 fraction; a multiplier
// below 1 has a negative exponent. The mantissa carries the sign: normalized values have |mantissa_q31| in
// [2^30, 2^31), zero is {0, 0}.
//
// Rounding rule, stated once (every kernel, reference or SIMD, must give exactly this):
//   apply(x) = floor((x * mantissa_q31 + 2^(s - 1)) / 2^s),  s = 31 - exponent,
// computed exactly in int64: round half up (toward +infinity) of the exact product x * real multiplier.
// This differs from the float fake-quant path, which rounds half to even after float32 products
// (quant/rounding.h): ties of the exact product are rare, float32 rounding of the product is not.
//
// Preconditions (checked once by the lowering, asserted here in debug builds): 1 <= s <= 62, i.e. exponent in
// [-31, 30]; x any int32. Overflow bound: |x * mantissa| <= 2^31 * 2^31 = 2^62, plus the rounding term 2^61,
// stays below 2^63. The result fits int32 whenever |real multiplier * x| < 2^31 - 1; callers clamp to their code
// range right after, and the lowering keeps multipliers small enough that the int64 result is clamped, not wrapped.
#pragma once

#include <cassert>
#include <cstdint>

namespace fqvit {

struct FixedMultiplier {
  int32_t mantissa_q31 = 0;
  int32_t exponent = 0;

  constexpr int32_t right_shift() const { return 31 - exponent; }
  constexpr bool valid() const { return exponent >= -31 && exponent <= 30; }
  bool operator==(const FixedMultiplier&) const = default;
};

// x * multiplier, rounded half up, in int64 (exact; see above). Callers clamp.
constexpr int64_t apply_multiplier(int32_t x, FixedMultiplier m) {
  assert(m.valid());
  const int32_t s = m.right_shift();
  const int64_t product = static_cast<int64_t>(x) * m.mantissa_q31;
  return (product + (int64_t{1} << (s - 1))) >> s;  // arithmetic shift: floor division by 2^s
}

// The same with the rounding term moved by `rounding_offset`: floor((x * mantissa_q31 + 2^(s - 1) + rounding_offset)
// / 2^s). The lowering uses it to carry the fraction f of an accumulator unit that an int32 bias cannot hold
// (|f| <= 1/2): rounding_offset = round(f * mantissa_q31), |rounding_offset| <= 2^30, so the result is (x + f) * real
// rounded half up, to within 2^-s. Bound: |x * mantissa| + 2^61 + 2^30 < 2^63.
constexpr int64_t apply_multiplier(int32_t x, FixedMultiplier m, int32_t rounding_offset) {
  assert(m.valid());
  const int32_t s = m.right_shift();
  return (static_cast<int64_t>(x) * m.mantissa_q31 + (int64_t{1} << (s - 1)) + rounding_offset) >> s;
}

// apply_multiplier clamped to [lo, hi] after adding `zero_point`: the requantization of one accumulator to a code.
constexpr int32_t requantize(int32_t acc, FixedMultiplier m, int32_t zero_point, int32_t lo, int32_t hi) {
  const int64_t v = apply_multiplier(acc, m) + zero_point;
  return static_cast<int32_t>(v < lo ? lo : (v > hi ? hi : v));
}
// The same with a rounding offset (above).
constexpr int32_t requantize(int32_t acc, FixedMultiplier m, int32_t rounding_offset, int32_t zero_point, int32_t lo,
                             int32_t hi) {
  const int64_t v = apply_multiplier(acc, m, rounding_offset) + zero_point;
  return static_cast<int32_t>(v < lo ? lo : (v > hi ? hi : v));
}

}  // namespace fqvit
