// Code-to-code rescales: per-tensor requantization, accumulator epilogues and the residual add.
#include <cstddef>
#include <cassert>

#include "fqvit/kernels/int_ops.h"

namespace fqvit {
namespace {

constexpr int32_t clamp_code(int64_t v, int32_t lo, int32_t hi) {
  return static_cast<int32_t>(v < lo ? lo : (v > hi ? hi : v));
}

}  // namespace

void rescale_codes_ref(const RescaleParams& p, const uint8_t* x, int64_t n, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<uint8_t>(requantize(int32_t{x[i]} - p.in_zero_point, p.multiplier, p.out_zero_point, p.lo, p.hi));
  }
}

void requantize_accumulators_ref(const AccRequantParams& p, const int32_t* acc, int64_t rows, int64_t n,
                                 uint8_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      // The lowering bounds |acc| << gain_shift plus the bias below 2^31.
      const int32_t v = static_cast<int32_t>(static_cast<int64_t>(acc[r * n + j]) * (int64_t{1} << p.gain_shift)) +
                        p.bias[static_cast<std::size_t>(j)];
      out[r * n + j] = static_cast<uint8_t>(requantize(v, p.multiplier[static_cast<std::size_t>(j)], p.zero_point, p.lo, p.hi));
    }
  }
}

void residual_add_ref(const ResidualAddParams& p, const uint8_t* a, const uint8_t* b, int64_t rows, uint8_t* out) {
  const int64_t c_count = p.channels;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < c_count; ++c) {
      const FixedMultiplier ma = p.a_multiplier[static_cast<std::size_t>(c)];
      const FixedMultiplier mb = p.b_multiplier[static_cast<std::size_t>(c)];
      assert(ma.exponent == mb.exponent && ma.valid());
      const int32_t s = ma.right_shift();
      // |(a - zp) * m| < 2^8 * 2^31 each: the exact sum < 2^40 in int64.
      const int64_t sum = static_cast<int64_t>(int32_t{a[r * c_count + c]} - p.a_zero_point) * ma.mantissa_q31 +
                          static_cast<int64_t>(int32_t{b[r * c_count + c]} - p.b_zero_point) * mb.mantissa_q31;
      const int64_t v = ((sum + (int64_t{1} << (s - 1))) >> s) + p.out_zero_point;
      out[r * c_count + c] = static_cast<uint8_t>(clamp_code(v, p.lo, p.hi));
    }
  }
}

void class_scores_ref(const ScoreParams& p, const uint8_t* a, const uint8_t* b, int64_t n, int32_t* scores) {
  for (int64_t j = 0; j < n; ++j) {
    if (!p.two_heads) {
      scores[j] = int32_t{a[j]} - p.a_zero_point;
      continue;
    }
    const int32_t s = p.a_multiplier.right_shift();
    assert(p.a_multiplier.exponent == p.b_multiplier.exponent);
    const int64_t sum = static_cast<int64_t>(int32_t{a[j]} - p.a_zero_point) * p.a_multiplier.mantissa_q31 +
                        static_cast<int64_t>(int32_t{b[j]} - p.b_zero_point) * p.b_multiplier.mantissa_q31;
    scores[j] = static_cast<int32_t>((sum + (int64_t{1} << (s - 1))) >> s);  // |score| < 2^31: lowering's choice
  }
}

}  // namespace fqvit
