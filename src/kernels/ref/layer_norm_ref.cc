// Integer LayerNorm (include/fqvit/kernels/int_ops.h states the arithmetic and its bounds).
#include <bit>
#include <cassert>
#include <cstddef>

#include "fqvit/kernels/int_ops.h"

namespace fqvit {
namespace {

// GCC / Clang 128-bit integers (__extension__: not ISO C++, hence the marker that silences -Wpedantic).
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

// floor(a / b) for b > 0 (C++ division truncates toward zero).
int128 floor_div(int128 a, int128 b) {
  const int128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// floor(log2 v) for v > 0.
int bit_length(uint128 v) {
  const auto hi = static_cast<uint64_t>(v >> 64);
  return static_cast<int>(hi != 0 ? 64 + std::bit_width(hi) : std::bit_width(static_cast<uint64_t>(v)));
}

constexpr int kAFracBits = 48;  // |A| carried as floor(|A| * 2^48)
constexpr int kMaxN = 31;       // the reference's clamp of N
constexpr int128 kBLimit = int128{1} << 62;  // |B| beyond this puts the output far outside any code range

}  // namespace

uint64_t isqrt_u64(uint64_t v) {
  // Digit-by-digit (binary) square root: exact floor(sqrt(v)).
  uint64_t root = 0;
  uint64_t bit = uint64_t{1} << 62;
  while (bit > v) bit >>= 2;
  while (bit != 0) {
    if (v >= root + bit) {
      v -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  return root;
}

void layer_norm_ref(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out) {
  const int64_t c_count = p.channels;
  assert(c_count > 0 && c_count <= 4096);
  const int32_t m_max = (int32_t{1} << p.multiplier_bits) - 1;
  std::vector<int32_t> x(static_cast<std::size_t>(c_count));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* qr = q + r * c_count;
    uint8_t* yr = out + r * c_count;
    int64_t s1 = 0, s2 = 0;  // |s1| < 2^23, s2 < 2^35 (|x| <= 2040, C <= 4096)
    for (int64_t c = 0; c < c_count; ++c) {
      const int32_t v = (int32_t{qr[c]} - p.in_zero_point) * (int32_t{1} << p.in_shift[static_cast<std::size_t>(c)]);
      x[static_cast<std::size_t>(c)] = v;
      s1 += v;
      s2 += int64_t{v} * v;
    }
    const int64_t d = c_count * s2 - s1 * s1 + p.variance_epsilon;  // >= 0 (Cauchy-Schwarz), < 2^47
    if (d <= 0) {
      for (int64_t c = 0; c < c_count; ++c) yr[c] = p.zero_variance_code[static_cast<std::size_t>(c)];
      continue;
    }
    // sqrt(D) = (root + f) / 2^k, f in [0, 1): D scaled by 4^k into [2^60, 2^62) keeps 30 bits of the root.
    const int k = (62 - static_cast<int>(std::bit_width(static_cast<uint64_t>(d)))) / 2;
    const auto root = static_cast<int64_t>(isqrt_u64(static_cast<uint64_t>(d) << (2 * k)));  // [2^30, 2^31)
    for (int64_t c = 0; c < c_count; ++c) {
      const FixedMultiplier g = p.gamma[static_cast<std::size_t>(c)];
      if (g.mantissa_q31 == 0) {
        yr[c] = p.zero_variance_code[static_cast<std::size_t>(c)];
        continue;
      }
      // |A| 2^48 = C |mantissa| 2^(exponent - 31 + k + 48) / root; the numerator < 2^43 * 2^77.
      const int e1 = g.exponent + k + kAFracBits - 31;
      int128 num = int128{c_count} * (g.mantissa_q31 < 0 ? -int128{g.mantissa_q31} : int128{g.mantissa_q31});
      int128 a_fp = e1 >= 0 ? (num << e1) / root : (num / root) >> (-e1);
      if (a_fp == 0) {
        yr[c] = p.zero_variance_code[static_cast<std::size_t>(c)];
        continue;
      }
      const int log2_a = bit_length(static_cast<uint128>(a_fp)) - 1 - kAFracBits;  // floor(log2 |A|)
      int n = p.multiplier_bits - 1 - log2_a;
      n = n < 0 ? 0 : (n > kMaxN ? kMaxN : n);
      int128 m = a_fp >> (kAFracBits - n);
      if (m > m_max) m = m_max;
      const int128 sign = g.mantissa_q31 < 0 ? -1 : 1;
      // B = round(2^N (beta / s_out - S1 A / C)) on the denominator C 2^48: |terms| < 2^115.
      const int128 den = int128{c_count} << kAFracBits;
      const int128 v = (int128{p.beta_q32[static_cast<std::size_t>(c)]} * c_count << (n + kAFracBits - kLayerNormBetaFracBits)) -
                       int128{s1} * sign * (a_fp << n);
      int128 b = floor_div(v + den / 2, den);
      b = b > kBLimit ? kBLimit : (b < -kBLimit ? -kBLimit : b);
      // |M x| < 2^24 * 2^11: the int64 sum cannot overflow.
      const int64_t t = static_cast<int64_t>(sign * m) * x[static_cast<std::size_t>(c)] + static_cast<int64_t>(b);
      const int64_t y = n == 0 ? t : (t + (int64_t{1} << (n - 1))) >> n;
      const int64_t code = y + p.out_zero_point;
      yr[c] = static_cast<uint8_t>(code < p.lo ? p.lo : (code > p.hi ? p.hi : code));
    }
  }
}

}  // namespace fqvit
