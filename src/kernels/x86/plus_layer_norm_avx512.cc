// The wide integer LayerNorm (int_ops_plus.h layer_norm_wide_ref: per-channel zero points, shifts up to 10, 16-bit
// codes, per-channel output quantizers) in AVX-512 (F, BW, VL, DQ, CD), bit-exact with the reference. The row sums
// and the square root are the reference's, the per-channel part runs 8 channels per zmm in int64 lanes with the
// reference's int128 products split exactly into 32-bit halves:
//   x = (q - zp_in) << shift: int32 lanes, |x| < 2^16 2^10 = 2^26. S1 = sum x and S2 = sum x^2 in int64 lanes
//     (vpmuldq: x^2 < 2^52, exact; C <= 2048 terms: S2 < 2^63, |S1| < 2^37). D = C S2 - S1^2 in int128, scalar.
//   P = C |mantissa| inv: u = C |mantissa| < 2^11 2^31 = 2^42 once per call, inv in (2^30, 2^31] per row, p_hi =
//     floor(P / 2^32) = (u >> 32) inv + ((u mod 2^32) inv >> 32) < 2^41 + 2^31 (vpmuludq). With j = 44 - exponent
//     - k (the reference's A is P / 2^j in units of 2^-48), bit_length(A 2^48) = bit_length(P) - j, N = clamp(64 -
//     that, 0, 40) and M = min(floor(P / 2^(j + 48 - N)), 2^31). Mantissas are normalized (|m| >= 2^30, checked
//     per call) so P >= 2^60 and p_hi > 0 carries the bit length; with 0 <= j <= 60 (checked per row) A 2^48 > 0
//     and j + 48 - N >= 45, so M comes from p_hi alone (the proof is at the loop).
//   The mean term floor(sign |mantissa| |S1| inv / 2^j): |S1| < 2^32 (checked per row) makes W = |S1| inv < 2^63 one
//     scalar product per row and |mantissa| W = t_hi 2^32 + t_lo with t_hi < 2^31 2^31 + 2^31 < 2^63, then the
//     paper kernel's quotient and remainder (layer_norm_avx512.cc), kept below 2^61 (checked). v = beta_q32 2^16 -
//     t (|beta_q32| < 2^45, checked: |v| < 2^62); B = floor((v 2^N + 2^47) / 2^48) = floor((v + 2^(47 - N)) /
//     2^(48 - N)) (N <= 40), so |B| < 2^54 and the reference's clamp at 2^60 never acts. t = M x + B: |M x| <= 2^31 2^26 = 2^57 (vpmullq), then (t + 2^(N - 1)) >> N, half up.
// The rows' square roots (isqrt_u64 of D 4^k in [2^60, 2^62)) run 16 at a time, one per lane (isqrt_2_60_x16_avx512,
// layer_norm_avx512.cc). A row where a channel breaks a check (j outside [0, 60], a quotient too large, |S1| >=
// 2^32), and a call with a mantissa that is not normalized, go to the reference kernel, so every row is exactly
// the reference's; none does on our models.
// No std templates here (thread_scratch.h says why).
#include <cassert>
#include <cstddef>
#include <cstring>

#include "kernels/thread_scratch.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/plus_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

constexpr int kAFracBits = 48;
constexpr int64_t kBetaLimit = int64_t{1} << 45;
constexpr int64_t kMLimit = int64_t{1} << 31;
constexpr int kMaxN = 40;

// Per-call channel constants and a row group's x (thread_scratch slots), padded to 16 channels with zeros.
struct ChannelConstants {
  int32_t* x;         // the row's x
  int32_t* zp_in;     // in_zero_point
  int32_t* shift;     // in_shift
  int64_t* mantissa;      // C |gamma mantissa|
  int64_t* abs_mantissa;  // |gamma mantissa|
  int64_t* negative;  // -1 where gamma < 0, else 0
  int64_t* exponent;  // gamma exponent
  int64_t* beta48;    // beta_q32 2^16
  int64_t* zp_out;    // out_zero_point
  int64_t* zero_gamma;  // -1 where gamma = 0 (the zero-variance code), else 0
};

template <typename T>
T* zeroed(int slot, int64_t count) {
  const auto bytes = count * static_cast<int64_t>(sizeof(T));
  void* p = thread_scratch(slot, bytes);
  std::memset(p, 0, static_cast<size_t>(bytes));
  return static_cast<T*>(p);
}

__m512i bit_length_epi64(__m512i v) { return _mm512_sub_epi64(_mm512_set1_epi64(64), _mm512_lzcnt_epi64(v)); }

int bit_length(uint128 v) {
  const auto hi = static_cast<uint64_t>(v >> 64);
  if (hi != 0) return 128 - __builtin_clzll(hi);
  const auto lo = static_cast<uint64_t>(v);
  return lo == 0 ? 0 : 64 - __builtin_clzll(lo);
}

__m512i load_codes(const uint8_t* p, __mmask16 m) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)); }
__m512i load_codes(const uint16_t* p, __mmask16 m) { return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)); }

// A group of up to kRowGroup rows: x and the sums row by row, the square roots together, then each row's
// per-channel pass.
constexpr int kRowGroup = 16;  // isqrt_2_60_x16_avx512 takes 16 rows

template <typename In>
void layer_norm_rows(const LayerNormWideParams& p, const In* q, int64_t rows, uint8_t* out) {
  const int64_t c_count = p.channels;
  assert(c_count > 0 && c_count <= kLayerNormWideMaxChannels);
  const int64_t padded = (c_count + 15) / 16 * 16;
  int64_t* wide = zeroed<int64_t>(3, 7 * padded);  // the int64 constants, one slot
  ChannelConstants cc{zeroed<int32_t>(0, kRowGroup * padded), zeroed<int32_t>(1, padded), zeroed<int32_t>(2, padded),
                      wide,           wide + padded,           wide + 2 * padded, wide + 3 * padded,
                      wide + 4 * padded, wide + 5 * padded,    wide + 6 * padded};
  int64_t j0_min = INT64_MAX, j0_max = INT64_MIN;  // 44 - exponent over the channels with gamma != 0
  bool any_zero_gamma = false;
  for (int64_t c = 0; c < c_count; ++c) {
    const auto i = static_cast<size_t>(c);
    const FixedMultiplier g = p.gamma[i];
    if (p.beta_q32[i] >= kBetaLimit || p.beta_q32[i] <= -kBetaLimit) return layer_norm_wide_ref(p, q, rows, out);
    const int64_t abs_m = g.mantissa_q31 < 0 ? -int64_t{g.mantissa_q31} : g.mantissa_q31;
    if (abs_m != 0 && abs_m < (int64_t{1} << 30)) return layer_norm_wide_ref(p, q, rows, out);  // not normalized
    cc.zero_gamma[c] = abs_m == 0 ? -1 : 0;
    any_zero_gamma = any_zero_gamma || abs_m == 0;
    const int64_t j0 = 44 - int64_t{g.exponent};
    if (abs_m != 0 && j0 < j0_min) j0_min = j0;
    if (abs_m != 0 && j0 > j0_max) j0_max = j0;
    cc.zp_in[c] = p.in_zero_point[i];
    cc.shift[c] = p.in_shift[i];
    // u = C |mantissa| < 2^11 2^31 = 2^42, prepared once: the row multiplies it by inv.
    cc.abs_mantissa[c] = g.mantissa_q31 < 0 ? -int64_t{g.mantissa_q31} : g.mantissa_q31;
    cc.mantissa[c] = c_count * cc.abs_mantissa[c];
    cc.negative[c] = g.mantissa_q31 < 0 ? -1 : 0;
    cc.exponent[c] = g.exponent;
    cc.beta48[c] = p.beta_q32[i] * (int64_t{1} << (kAFracBits - kLayerNormBetaFracBits));
    cc.zp_out[c] = p.out_zero_point[i];
  }
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF), m_all = _mm512_set1_epi64(-1);
  const __m512i k29 = _mm512_set1_epi64(29), k32 = _mm512_set1_epi64(32);
  const __m512i k47 = _mm512_set1_epi64(kAFracBits - 1), k48 = _mm512_set1_epi64(kAFracBits);
  const __m512i k64 = _mm512_set1_epi64(64), n_max = _mm512_set1_epi64(kMaxN), m_limit = _mm512_set1_epi64(kMLimit);
  const __m512i lo = _mm512_set1_epi64(p.lo), hi = _mm512_set1_epi64(p.hi);
  for (int64_t r0 = 0; r0 < rows; r0 += kRowGroup) {
    const int group = static_cast<int>(rows - r0 < kRowGroup ? rows - r0 : kRowGroup);
    alignas(64) uint64_t scaled[kRowGroup], root[kRowGroup];
    int64_t s1[kRowGroup];
    int k[kRowGroup];
    bool fast[kRowGroup];
    for (int g = 0; g < kRowGroup; ++g) scaled[g] = uint64_t{1} << 60, fast[g] = false;
    for (int g = 0; g < group; ++g) {
      const In* qr = q + (r0 + g) * c_count;
      int32_t* xs = cc.x + g * padded;
      __m512i s1_even = zero, s1_odd = zero, s2v = zero;
      for (int64_t c = 0; c < c_count; c += 16) {
        const __mmask16 m = lane_mask(c_count - c);
        const __m512i d = _mm512_sub_epi32(load_codes(qr + c, m), _mm512_loadu_si512(cc.zp_in + c));
        const __m512i x = _mm512_maskz_sllv_epi32(m, d, _mm512_loadu_si512(cc.shift + c));
        _mm512_storeu_si512(xs + c, x);
        const __m512i x_odd = _mm512_srli_epi64(x, 32);
        s1_even = _mm512_add_epi64(s1_even, _mm512_srai_epi64(_mm512_slli_epi64(x, 32), 32));
        s1_odd = _mm512_add_epi64(s1_odd, _mm512_srai_epi64(x, 32));
        s2v = _mm512_add_epi64(s2v, _mm512_add_epi64(_mm512_mul_epi32(x, x), _mm512_mul_epi32(x_odd, x_odd)));
      }
      s1[g] = _mm512_reduce_add_epi64(_mm512_add_epi64(s1_even, s1_odd));
      const auto s2 = static_cast<uint64_t>(_mm512_reduce_add_epi64(s2v));  // < 2^63
      const int128 dv = int128{c_count} * static_cast<int128>(s2) - int128{s1[g]} * s1[g];
      // Zero variance (the reference's codes) and |S1| >= 2^32 (beyond the fast form) rows go to the reference.
      fast[g] = dv > 0 && s1[g] < (int64_t{1} << 32) && s1[g] > -(int64_t{1} << 32);
      if (!fast[g]) continue;
      const int w = bit_length(static_cast<uint128>(dv));
      k[g] = w <= 62 ? (62 - w) / 2 : -((w - 61) / 2);
      // 0 <= j <= 60 on every channel with gamma != 0 (j = 44 - exponent - k), else the row takes the reference.
      fast[g] = j0_min == INT64_MAX || (j0_min - k[g] >= 0 && j0_max - k[g] <= 60);
      if (!fast[g]) continue;
      scaled[g] = static_cast<uint64_t>(k[g] >= 0 ? static_cast<uint128>(dv) << (2 * k[g])
                                                  : static_cast<uint128>(dv) >> (-2 * k[g]));  // [2^60, 2^62)
    }
    isqrt_2_60_x16_avx512(scaled, root);  // isqrt_u64 of each row's scaled D, 16 at once
    for (int g = 0; g < group; ++g) {
      const In* qr = q + (r0 + g) * c_count;
      uint8_t* yr = out + (r0 + g) * c_count;
      if (!fast[g]) {
        layer_norm_wide_ref(p, qr, 1, yr);
        continue;
      }
      const int32_t* xs = cc.x + g * padded;
      const auto inv = static_cast<int64_t>((uint64_t{1} << 61) / root[g]);  // in (2^30, 2^31]
      const int64_t abs_s1 = s1[g] < 0 ? -s1[g] : s1[g];
      // W = |S1| inv < 2^32 2^31 = 2^63: the mean term's |mantissa| |S1| inv is |mantissa| W.
      const auto w_all = static_cast<uint64_t>(abs_s1) * static_cast<uint64_t>(inv);
      const __m512i w_hi = _mm512_set1_epi64(static_cast<int64_t>(w_all >> 32));
      const __m512i w_lo = _mm512_set1_epi64(static_cast<int64_t>(w_all & 0xFFFFFFFF));
      const __m512i vinv = _mm512_set1_epi64(inv);
      const __m512i s1_negative = _mm512_set1_epi64(s1[g] < 0 ? -1 : 0), k_minus_44 = _mm512_set1_epi64(k[g] - 44);
      __mmask8 refused = 0;
      for (int64_t c = 0; c < c_count; c += 8) {
        const __mmask8 lanes = static_cast<__mmask8>(c_count - c >= 8 ? 0xFF : (1u << (c_count - c)) - 1);
        const __m512i u = _mm512_loadu_si512(cc.mantissa + c);  // C |mantissa| < 2^42
        const __m512i j = _mm512_sub_epi64(zero, _mm512_add_epi64(_mm512_loadu_si512(cc.exponent + c), k_minus_44));
        // floor(C |mantissa| inv / 2^32) = (u >> 32) inv + ((u mod 2^32) inv >> 32) < 2^41 + 2^31 (u < 2^42).
        const __m512i p_hi = _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(u, 32), vinv),
                                              _mm512_srli_epi64(_mm512_mul_epu32(u, vinv), 32));
        // |mantissa| W = t_hi 2^32 + t_lo: t_hi = |mantissa| (W >> 32) + (|mantissa| (W mod 2^32) >> 32) < 2^62 +
        // 2^31.
        const __m512i mant = _mm512_loadu_si512(cc.abs_mantissa + c);
        const __m512i t_part = _mm512_mul_epu32(mant, w_lo);
        const __m512i t_hi = _mm512_add_epi64(_mm512_mul_epu32(mant, w_hi), _mm512_srli_epi64(t_part, 32));
        const __m512i t_lo = _mm512_and_si512(t_part, low32);
        refused |= _mm512_mask_cmpneq_epi64_mask(lanes, _mm512_srlv_epi64(t_hi, _mm512_add_epi64(j, k29)), zero);
        // A normalized mantissa (>= 2^30, checked per call) and inv > 2^30 give C |mantissa| inv >= 2^60, so p_hi
        // >= 2^28 is never 0 and bit_length(A 2^48) = bit_length(p_hi) + 32 - j >= 61 - j >= 1 (j <= 60: checked
        // per row), so A 2^48 > 0. Then j + 48 - N >= 45 in each of N's three cases (unclamped: bit_length(p_hi) +
        // 16; N = 0: j + 48; N = 40: j + 8 with j >= bit_length(p_hi) + 8 >= 37), so M = p_hi >> (j + 16 - N).
        const __m512i a_bits = _mm512_sub_epi64(_mm512_add_epi64(bit_length_epi64(p_hi), k32), j);
        const __m512i n = _mm512_min_epi64(_mm512_max_epi64(_mm512_sub_epi64(k64, a_bits), zero), n_max);
        const __m512i sh = _mm512_sub_epi64(_mm512_add_epi64(j, k48), n);
        const __m512i m_abs = _mm512_min_epi64(_mm512_srlv_epi64(p_hi, _mm512_sub_epi64(sh, k32)), m_limit);
        const __m512i gamma_negative = _mm512_loadu_si512(cc.negative + c);
        const __m512i m_signed = _mm512_sub_epi64(_mm512_xor_si512(m_abs, gamma_negative), gamma_negative);
        // The mean term floor(sign |mantissa| W / 2^j): quotient and whether a remainder is left.
        const __mmask8 j_ge32 = _mm512_cmpge_epi64_mask(j, k32);
        const __m512i j_minus_32 = _mm512_sub_epi64(j, k32);
        const __m512i q_wide = _mm512_srlv_epi64(t_hi, j_minus_32);
        const __m512i q_narrow =
            _mm512_or_si512(_mm512_sllv_epi64(t_hi, _mm512_sub_epi64(k32, j)), _mm512_srlv_epi64(t_lo, j));
        const __m512i quotient = _mm512_mask_blend_epi64(j_ge32, q_narrow, q_wide);
        const __m512i low_j = _mm512_sub_epi64(_mm512_sllv_epi64(one, j), one);  // 2^j - 1 (all ones for j >= 64)
        const __m512i rem_wide = _mm512_or_si512(
            _mm512_and_si512(t_hi, _mm512_sub_epi64(_mm512_sllv_epi64(one, j_minus_32), one)), t_lo);
        const __m512i rem_narrow = _mm512_and_si512(t_lo, low_j);
        const __mmask8 has_rem =
            _mm512_cmpneq_epi64_mask(_mm512_mask_blend_epi64(j_ge32, rem_narrow, rem_wide), zero);
        const __mmask8 is_negative = _mm512_cmpneq_epi64_mask(_mm512_xor_si512(gamma_negative, s1_negative), zero);
        const __m512i q_up = _mm512_mask_add_epi64(quotient, has_rem, quotient, one);
        const __m512i t_fp = _mm512_mask_sub_epi64(quotient, is_negative, zero, q_up);  // -ceil for negative
        const __m512i v = _mm512_sub_epi64(_mm512_loadu_si512(cc.beta48 + c), t_fp);
        const __m512i b = _mm512_srav_epi64(_mm512_add_epi64(v, _mm512_sllv_epi64(one, _mm512_sub_epi64(k47, n))),
                                            _mm512_sub_epi64(k48, n));
        const __m512i x = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + c)));
        const __m512i t = _mm512_add_epi64(_mm512_mullo_epi64(m_signed, x), b);
        // (t + 2^(N - 1)) >> N: for N = 0 the count -1 is taken as unsigned, and vpsllvq gives 0.
        const __m512i half = _mm512_sllv_epi64(one, _mm512_sub_epi64(n, one));
        const __m512i y = _mm512_srav_epi64(_mm512_add_epi64(t, half), n);
        __m512i code =
            _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(y, _mm512_loadu_si512(cc.zp_out + c)), lo), hi);
        if (any_zero_gamma) {  // gamma = 0: the zero-variance code, as the reference
          const __mmask8 zero_gamma = _mm512_test_epi64_mask(_mm512_loadu_si512(cc.zero_gamma + c), m_all);
          const __m512i zvc = _mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(lanes, p.zero_variance_code.data() + c));
          code = _mm512_mask_blend_epi64(zero_gamma, code, zvc);
        }
        store_codes_u8_from_epi64(yr + c, code, lanes);
      }
      if (refused != 0) layer_norm_wide_ref(p, qr, 1, yr);
    }
  }
}

}  // namespace

void layer_norm_wide_avx512(const LayerNormWideParams& p, const uint8_t* q, int64_t rows, uint8_t* out) {
  layer_norm_rows(p, q, rows, out);
}
void layer_norm_wide_avx512(const LayerNormWideParams& p, const uint16_t* q, int64_t rows, uint8_t* out) {
  layer_norm_rows(p, q, rows, out);
}

}  // namespace fqvit::kernels
