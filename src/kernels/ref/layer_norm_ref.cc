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
    // 1 / sqrt(D) = inv 2^(k - 61), inv = floor(2^61 / root) in (2^30, 2^31]: the token's one division.
    const int64_t inv = (int64_t{1} << 61) / root;
    for (int64_t c = 0; c < c_count; ++c) {
      const FixedMultiplier g = p.gamma[static_cast<std::size_t>(c)];
      if (g.mantissa_q31 == 0) {
        yr[c] = p.zero_variance_code[static_cast<std::size_t>(c)];
        continue;
      }
      // |A| 2^48 = C |mantissa| inv 2^(exponent + k - 44); the product < 2^12 2^31 2^31.
      const int e1 = g.exponent + k - 44;
      const int128 mant = g.mantissa_q31 < 0 ? -int128{g.mantissa_q31} : int128{g.mantissa_q31};
      const int128 prod = int128{c_count} * mant * inv;
      const int128 a_fp = e1 >= 0 ? prod << e1 : prod >> (-e1);
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
      // B = round(2^N (beta / s_out - gamma S1 / sqrt(D))), the mean term gamma S1 / sqrt(D) in units of 2^-48:
      // sign |mantissa| S1 inv 2^(exponent + k - 44), |product| < 2^31 2^23 2^31.
      const int128 t_prod = sign * mant * s1 * inv;
      const int128 t_fp = e1 >= 0 ? t_prod << e1 : t_prod >> (-e1);
      const int128 v = (int128{p.beta_q32[static_cast<std::size_t>(c)]} << (kAFracBits - kLayerNormBetaFracBits)) - t_fp;
      int128 b = ((v << n) + (int128{1} << (kAFracBits - 1))) >> kAFracBits;  // arithmetic shift: floor
      b = b > kBLimit ? kBLimit : (b < -kBLimit ? -kBLimit : b);
      // |M x| < 2^24 * 2^11: the int64 sum cannot overflow.
      const int64_t t = static_cast<int64_t>(sign * m) * x[static_cast<std::size_t>(c)] + static_cast<int64_t>(b);
      // Division by 2^N rounded half to even, as the reference's torch.round: with N = 7..15 exact ties are
      // frequent (one in 2^N), so here the reference's tie rule is the one that reproduces its codes.
      int64_t y = t;
      if (n > 0) {
        y = t >> n;  // floor
        const int64_t rem = t - (y << n), half = int64_t{1} << (n - 1);
        if (rem > half || (rem == half && (y & 1) != 0)) ++y;
      }
      const int64_t code = y + p.out_zero_point;
      yr[c] = static_cast<uint8_t>(code < p.lo ? p.lo : (code > p.hi ? p.hi : code));
    }
  }
}

}  // namespace fqvit
