// Integer LayerNorm in AVX-512 (F, BW, VL, CD), general form, bit-exact with layer_norm_ref.cc: the fallback of the
// fast form (layer_norm_avx512.cc) for rows outside its bounds. The row sums S1, S2 and the
// square root are the reference's; the per-channel part (A = C gamma / sqrt(D) as M / 2^N, the offset B, the
// half-to-even division) runs on 8 channels per zmm in int64 lanes, with the reference's int128 products split
// exactly into 32-bit halves:
//   u = |mantissa| inv < 2^62 (vpmuludq); C u = hi 2^32 + lo with hi = C (u >> 32) + (C (u mod 2^32) >> 32) < 2^43
//   and the same split for |u S1| < 2^85. With j = -(exponent + k - 44) >= 0 (the shift of the reference's A and
//   mean term), floor(C u / 2^j), its bit length and the rounding of the mean term follow from the halves; B's
//   2^N scaling is folded into one shift: floor((v 2^N + 2^47) / 2^48) = floor((v + 2^(47 - N)) / 2^(48 - N)).
// The fast form needs j >= 0, |u S1| / 2^j < 2^61 and |beta_q32| < 2^45 (every row of our models); a row where a
// channel breaks one is recomputed by the reference kernel, so every row is exactly the reference's.
// No std templates here (thread_scratch.h says why).
#include <cassert>
#include <cstddef>
#include <cstring>

#include "kernels/thread_scratch.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int kAFracBits = 48;
constexpr int64_t kBetaLimit = int64_t{1} << 45;

// Per-call channel constants and the row's x, from thread_scratch slots, padded to 16 channels with zeros.
struct ChannelConstants {
  int32_t* x;         // the row's x = (q - zp) << shift
  int64_t* mantissa;  // |gamma mantissa|
  int64_t* negative;  // -1 where gamma < 0, else 0
  int64_t* exponent;  // gamma exponent
  int64_t* beta48;    // beta_q32 2^16
  int32_t* shift;     // in_shift
};

template <typename T>
T* zeroed(int slot, int64_t count) {
  const auto bytes = count * static_cast<int64_t>(sizeof(T));
  void* p = thread_scratch(slot, bytes);
  std::memset(p, 0, static_cast<size_t>(bytes));
  return static_cast<T*>(p);
}

__m512i bit_length_epi64(__m512i v) { return _mm512_sub_epi64(_mm512_set1_epi64(64), _mm512_lzcnt_epi64(v)); }

}  // namespace

void layer_norm_split_avx512(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out) {
  const int64_t c_count = p.channels;
  assert(c_count > 0 && c_count <= 4096);
  const int64_t padded = (c_count + 15) / 16 * 16;
  ChannelConstants cc{zeroed<int32_t>(0, padded), zeroed<int64_t>(1, padded), zeroed<int64_t>(2, padded),
                      zeroed<int64_t>(3, padded), zeroed<int64_t>(4, padded), zeroed<int32_t>(5, padded)};
  bool beta_fits = true;
  for (int64_t c = 0; c < c_count; ++c) {
    const auto i = static_cast<size_t>(c);
    const FixedMultiplier g = p.gamma[i];
    cc.mantissa[c] = g.mantissa_q31 < 0 ? -int64_t{g.mantissa_q31} : g.mantissa_q31;
    cc.negative[c] = g.mantissa_q31 < 0 ? -1 : 0;
    cc.exponent[c] = g.exponent;
    beta_fits = beta_fits && p.beta_q32[i] < kBetaLimit && p.beta_q32[i] > -kBetaLimit;
    cc.beta48[c] = beta_fits ? p.beta_q32[i] * (int64_t{1} << (kAFracBits - kLayerNormBetaFracBits)) : 0;
    cc.shift[c] = p.in_shift[i];
  }
  if (!beta_fits) return layer_norm_ref(p, q, rows, out);

  const __m512i zp_in = _mm512_set1_epi32(p.in_zero_point);
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF), c64 = _mm512_set1_epi64(c_count);
  const __m512i m_max = _mm512_set1_epi64((int64_t{1} << p.multiplier_bits) - 1);
  const __m512i bits48 = _mm512_set1_epi64(p.multiplier_bits + kAFracBits), n_max = _mm512_set1_epi64(31);
  const __m512i zp_out = _mm512_set1_epi64(p.out_zero_point), lo = _mm512_set1_epi64(p.lo), hi = _mm512_set1_epi64(p.hi);
  const __m512i k32 = _mm512_set1_epi64(32), k48 = _mm512_set1_epi64(kAFracBits), k47 = _mm512_set1_epi64(kAFracBits - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* qr = q + r * c_count;
    uint8_t* yr = out + r * c_count;
    // S1, S2: per-lane int32 partial sums (at most 256 terms each: |x| <= 2040, x^2 < 2^22), then int64.
    __m512i s1v = zero, s2v = zero;
    for (int64_t c = 0; c < c_count; c += 16) {
      const __mmask16 m = static_cast<__mmask16>(c_count - c >= 16 ? 0xFFFF : (1u << (c_count - c)) - 1);
      const __m512i codes = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, qr + c));
      const __m512i x = _mm512_maskz_sllv_epi32(m, _mm512_sub_epi32(codes, zp_in), _mm512_loadu_si512(cc.shift + c));
      _mm512_storeu_si512(cc.x + c, x);
      s1v = _mm512_add_epi32(s1v, x);
      s2v = _mm512_add_epi32(s2v, _mm512_mullo_epi32(x, x));
    }
    auto widen_sum = [](__m512i v) {
      return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                                                      _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1))));
    };
    const int64_t s1 = widen_sum(s1v);
    const int64_t s2 = static_cast<int64_t>(static_cast<uint64_t>(widen_sum(s2v)));  // lanes < 2^30: no wrap
    const int64_t d = c_count * s2 - s1 * s1 + p.variance_epsilon;
    if (d <= 0) {
      for (int64_t c = 0; c < c_count; ++c) yr[c] = p.zero_variance_code[static_cast<size_t>(c)];
      continue;
    }
    const int k = (62 - (64 - __builtin_clzll(static_cast<unsigned long long>(d)))) / 2;  // d > 0
    const auto root = static_cast<int64_t>(isqrt_u64(static_cast<uint64_t>(d) << (2 * k)));
    const int64_t inv = (int64_t{1} << 61) / root;
    const __m512i vinv = _mm512_set1_epi64(inv), vabs_s1 = _mm512_set1_epi64(s1 < 0 ? -s1 : s1);
    const __m512i s1_negative = _mm512_set1_epi64(s1 < 0 ? -1 : 0), k_minus_44 = _mm512_set1_epi64(k - 44);
    __mmask8 refused = 0;
    for (int64_t c = 0; c < c_count; c += 8) {
      const __mmask8 lanes = static_cast<__mmask8>(c_count - c >= 8 ? 0xFF : (1u << (c_count - c)) - 1);
      const __m512i mant = _mm512_loadu_si512(cc.mantissa + c);
      const __m512i j = _mm512_sub_epi64(zero, _mm512_add_epi64(_mm512_loadu_si512(cc.exponent + c), k_minus_44));
      const __m512i u = _mm512_mul_epu32(mant, vinv);  // < 2^62
      const __m512i uh = _mm512_srli_epi64(u, 32), ul = _mm512_and_si512(u, low32);
      // C u = p_hi 2^32 + p_lo.
      const __m512i b_part = _mm512_mul_epu32(c64, ul);
      const __m512i p_hi = _mm512_add_epi64(_mm512_mul_epu32(c64, uh), _mm512_srli_epi64(b_part, 32));
      const __m512i p_lo = _mm512_and_si512(b_part, low32);
      // |u S1| = t_hi 2^32 + t_lo.
      const __m512i t_part = _mm512_mul_epu32(vabs_s1, ul);
      const __m512i t_hi = _mm512_add_epi64(_mm512_mul_epu32(vabs_s1, uh), _mm512_srli_epi64(t_part, 32));
      const __m512i t_lo = _mm512_and_si512(t_part, low32);
      refused |= _mm512_mask_cmplt_epi64_mask(lanes, j, zero);
      refused |= _mm512_mask_cmpneq_epi64_mask(lanes, _mm512_srlv_epi64(t_hi, _mm512_add_epi64(j, _mm512_set1_epi64(29))), zero);
      // bit length of a_fp = floor(C u / 2^j): that of C u minus j (0 when a_fp is 0).
      const __mmask8 hi_nonzero = _mm512_cmpneq_epi64_mask(p_hi, zero);
      const __m512i prod_bits = _mm512_mask_blend_epi64(hi_nonzero, bit_length_epi64(p_lo),
                                                        _mm512_add_epi64(bit_length_epi64(p_hi), k32));
      const __m512i a_bits = _mm512_sub_epi64(prod_bits, j);
      const __mmask8 a_zero = _mm512_cmple_epi64_mask(a_bits, zero);
      // N = clamp(bits + 48 - bit_length(a_fp), 0, 31), M = min(floor(C u / 2^(j + 48 - N)), 2^bits - 1).
      const __m512i n = _mm512_min_epi64(_mm512_max_epi64(_mm512_sub_epi64(bits48, a_bits), zero), n_max);
      const __m512i sh = _mm512_sub_epi64(_mm512_add_epi64(j, k48), n);  // >= 17
      const __mmask8 sh_ge32 = _mm512_cmpge_epi64_mask(sh, k32);
      const __m512i m_wide = _mm512_srlv_epi64(p_hi, _mm512_sub_epi64(sh, k32));
      const __m512i m_narrow = _mm512_or_si512(_mm512_sllv_epi64(p_hi, _mm512_sub_epi64(k32, sh)), _mm512_srlv_epi64(p_lo, sh));
      const __m512i m_abs = _mm512_min_epi64(_mm512_mask_blend_epi64(sh_ge32, m_narrow, m_wide), m_max);
      const __m512i gamma_negative = _mm512_loadu_si512(cc.negative + c);
      const __m512i m_signed = _mm512_sub_epi64(_mm512_xor_si512(m_abs, gamma_negative), gamma_negative);
      // The mean term floor(sign |u S1| / 2^j): quotient q and whether a remainder is left.
      const __mmask8 j_ge32 = _mm512_cmpge_epi64_mask(j, k32);
      const __m512i j_minus_32 = _mm512_sub_epi64(j, k32);
      const __m512i q_wide = _mm512_srlv_epi64(t_hi, j_minus_32);
      const __m512i q_narrow = _mm512_or_si512(_mm512_sllv_epi64(t_hi, _mm512_sub_epi64(k32, j)), _mm512_srlv_epi64(t_lo, j));
      const __m512i quotient = _mm512_mask_blend_epi64(j_ge32, q_narrow, q_wide);
      const __m512i low_j = _mm512_sub_epi64(_mm512_sllv_epi64(one, j), one);  // 2^j - 1 (all ones for j >= 64)
      const __m512i rem_wide = _mm512_or_si512(_mm512_and_si512(t_hi, _mm512_sub_epi64(_mm512_sllv_epi64(one, j_minus_32), one)), t_lo);
      const __m512i rem_narrow = _mm512_and_si512(t_lo, low_j);
      const __mmask8 has_rem = _mm512_cmpneq_epi64_mask(_mm512_mask_blend_epi64(j_ge32, rem_narrow, rem_wide), zero);
      const __m512i t_negative = _mm512_xor_si512(gamma_negative, s1_negative);  // sign of gamma S1
      const __m512i q_up = _mm512_mask_add_epi64(quotient, has_rem, quotient, one);
      const __mmask8 is_negative = _mm512_cmpneq_epi64_mask(t_negative, zero);
      const __m512i t_fp = _mm512_mask_sub_epi64(quotient, is_negative, zero, q_up);  // -ceil for negative
      const __m512i v = _mm512_sub_epi64(_mm512_loadu_si512(cc.beta48 + c), t_fp);
      // B = floor((v + 2^(47 - N)) / 2^(48 - N)).
      const __m512i b = _mm512_srav_epi64(_mm512_add_epi64(v, _mm512_sllv_epi64(one, _mm512_sub_epi64(k47, n))),
                                          _mm512_sub_epi64(k48, n));
      const __m512i x = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(cc.x + c)));
      const __m512i t = _mm512_add_epi64(_mm512_mul_epi32(m_signed, x), b);
      // Division by 2^N, half to even.
      __m512i y = _mm512_srav_epi64(t, n);
      const __m512i rem = _mm512_sub_epi64(t, _mm512_sllv_epi64(y, n));
      const __m512i half = _mm512_sllv_epi64(one, _mm512_sub_epi64(n, one));
      const __mmask8 n_positive = _mm512_cmpgt_epi64_mask(n, zero);
      const __mmask8 odd = _mm512_test_epi64_mask(y, one);
      const __mmask8 up = n_positive & (_mm512_cmpgt_epi64_mask(rem, half) | (_mm512_cmpeq_epi64_mask(rem, half) & odd));
      y = _mm512_mask_add_epi64(y, up, y, one);
      __m512i code = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(y, zp_out), lo), hi);
      // gamma = 0 or A rounding to 0: the zero-variance code, as the reference.
      const __mmask8 use_zero_variance = a_zero | _mm512_cmpeq_epi64_mask(mant, zero);
      const __m512i zvc = _mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(lanes, p.zero_variance_code.data() + c));
      code = _mm512_mask_blend_epi64(use_zero_variance, code, zvc);
      store_codes_u8_from_epi64(yr + c, code, lanes);
    }
    if (refused != 0) layer_norm_ref(p, qr, 1, yr);
  }
}

}  // namespace fqvit::kernels
