// Both integer softmax forms of attention_ref.cc in AVX-512 with gathers, one row of logit codes at a time (the
// per-row stage API, and attention_rows_avx512.cc's fallback where softmax_avx512vbmi.cc does not apply), bit-exact:
//   exp: e = exp_table[max - code] by a gather from the 256-entry table; the row sum in int64 lanes (< T 2^31).
//   Log-Int-Softmax: the reference's code k = #{j : 2 sum >= c_j e} (c_1 = 3, c_j = 3 2^(j-1) - 1) is
//          #{j : e <= floor(2 sum / c_j)} for integers e >= 0, c_j > 0: 2^b thresholds per row, each a division by
//          a constant (a multiply-high, no divide instruction); they decrease with j, so k is found by a binary search
//          of 5 compares per 16 codes (vpermd picks each lane's threshold). Thresholds past 2^b are -1, which no
//          e passes, so k stops at the zero code 2^b.
//   uniform: code = clamp(zp + floor(N / den)), N = e R + den / 2, den = sum 2^16 (R = prob_reciprocal_q16 < 2^31,
//          so N < 2^62), by long division in int64 lanes: for each quotient bit from 2^8 down, subtract bit den from
//          the remainder where it stays >= 0. The quotient is computed up to 511, which clamps to hi like any larger
//          one when zp >= -256; den 2^8 < 2^63 needs T <= 256. Rows outside those bounds go through the reference.
// No std templates here (thread_scratch.h says why).
#include <cstddef>

#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kLanes = 16;
constexpr int kMaxLog2Codes = 16;  // 2^b for b <= 4
constexpr uint64_t kLisDivisor[kMaxLog2Codes] = {3,    5,    11,   23,    47,    95,    191,   383,
                                                  767,  1535, 3071, 6143,  12287, 24575, 49151, 98303};

// e = exp_table[max - code] for the row into exp[0, T); returns the row sum.
int64_t exp_row(const AttentionParams& p, const uint8_t* logits, int32_t* exp) {
  const int64_t t_count = p.tokens;
  __m512i vmax = _mm512_setzero_si512();
  for (int64_t s = 0; s < t_count; s += kLanes) {
    vmax = _mm512_max_epu8(vmax, _mm512_zextsi128_si512(_mm_maskz_loadu_epi8(lane_mask(t_count - s), logits + s)));
  }
  const __m512i row_max =
      _mm512_set1_epi32(_mm512_reduce_max_epi32(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(vmax))));
  __m512i sum_lo = _mm512_setzero_si512(), sum_hi = _mm512_setzero_si512();
  for (int64_t s = 0; s < t_count; s += kLanes) {
    const __mmask16 m = lane_mask(t_count - s);
    const __m512i idx = _mm512_sub_epi32(row_max, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, logits + s)));
    const __m512i e = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, p.exp_table.data(), 4);
    _mm512_mask_storeu_epi32(exp + s, m, e);
    sum_lo = _mm512_add_epi64(sum_lo, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(e)));
    sum_hi = _mm512_add_epi64(sum_hi, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(e, 1)));
  }
  return _mm512_reduce_add_epi64(_mm512_add_epi64(sum_lo, sum_hi));
}

void log2_codes(const AttentionParams& p, const int32_t* exp, uint64_t sum, uint8_t* probs) {
  const int32_t zero_code = int32_t{1} << p.log2_bits;
  int32_t threshold[kMaxLog2Codes];
#pragma GCC unroll 16
  for (int j = 0; j < kMaxLog2Codes; ++j) {
    const uint64_t t = 2 * sum / kLisDivisor[j];
    threshold[j] = j >= zero_code ? -1 : (t < INT32_MAX ? static_cast<int32_t>(t) : INT32_MAX);
  }
  // The thresholds decrease with j, so the passing j are 1..k: binary search over them, threshold[k] by vpermd.
  const __m512i th = _mm512_loadu_si512(threshold);
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t s = 0; s < p.tokens; s += kLanes) {
    const __mmask16 m = lane_mask(p.tokens - s);
    const __m512i e = _mm512_maskz_loadu_epi32(m, exp + s);
    __m512i k = _mm512_setzero_si512();  // k passing so far; test k + step (threshold index k + step - 1)
    for (int step = 8; step >= 1; step /= 2) {
      const __m512i at = _mm512_add_epi32(k, _mm512_set1_epi32(step - 1));
      k = _mm512_mask_add_epi32(k, _mm512_cmple_epi32_mask(e, _mm512_permutexvar_epi32(at, th)), k,
                                _mm512_set1_epi32(step));
    }
    // k in [0, 15] now; threshold[k] passes only when k = 15 and the 16th passes too.
    k = _mm512_mask_add_epi32(k, _mm512_cmple_epi32_mask(e, _mm512_permutexvar_epi32(k, th)), k, one);
    store_codes_u8(probs + s, k, m);
  }
}

void uniform_codes(const AttentionParams& p, const int32_t* exp, int64_t sum, uint8_t* probs) {
  const int64_t den = sum << 16;
  const __m512i reciprocal = _mm512_set1_epi64(p.prob_reciprocal_q16), half = _mm512_set1_epi64(den / 2);
  const __m512i zp = _mm512_set1_epi64(p.prob_zero_point);
  const __m512i lo = _mm512_set1_epi64(p.prob_lo), hi = _mm512_set1_epi64(p.prob_hi);
  __m512i bit_den[9], bit[9];
  for (int i = 0; i < 9; ++i) {
    bit_den[i] = _mm512_set1_epi64(den << (8 - i));
    bit[i] = _mm512_set1_epi64(int64_t{256} >> i);
  }
  for (int64_t s = 0; s < p.tokens; s += 8) {
    const int64_t left = p.tokens - s;
    const auto m = static_cast<__mmask8>(left >= 8 ? 0xFF : (1u << left) - 1);
    const __m512i e = _mm512_cvtepu32_epi64(_mm256_maskz_loadu_epi32(m, exp + s));
    __m512i rem = _mm512_add_epi64(_mm512_mul_epu32(e, reciprocal), half);  // N: e, R < 2^31
    __m512i q = _mm512_setzero_si512();
    for (int i = 0; i < 9; ++i) {
      const __m512i t = _mm512_sub_epi64(rem, bit_den[i]);
      const __mmask8 fits = _mm512_cmpge_epi64_mask(t, _mm512_setzero_si512());
      rem = _mm512_mask_mov_epi64(rem, fits, t);
      q = _mm512_mask_add_epi64(q, fits, q, bit[i]);
    }
    const __m512i code = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(q, zp), lo), hi);
    store_codes_u8_from_epi64(probs + s, code, m);
  }
}

}  // namespace

void softmax_row_avx512(const AttentionParams& p, const uint8_t* logits, int32_t* exp, uint8_t* probs) {
  const bool log2 = p.softmax == SoftmaxKind::kLog2;
  if (log2 ? p.log2_bits > 4
           : (p.tokens > 256 || p.prob_zero_point < -256 || p.prob_reciprocal_q16 < 0 ||
              p.prob_reciprocal_q16 >= (int64_t{1} << 31))) {
    return softmax_row_ref(p, logits, exp, probs);
  }
  const int64_t sum = exp_row(p, logits, exp);
  if (log2) return log2_codes(p, exp, static_cast<uint64_t>(sum), probs);
  uniform_codes(p, exp, sum, probs);
}

// Swin's masked rows (swin_attention_avx512.cc) come with their exps and sum; the same bounds as above.
void softmax_from_exp_avx512(const AttentionParams& p, const int32_t* exp, int64_t sum, uint8_t* probs) {
  const bool log2 = p.softmax == SoftmaxKind::kLog2;
  if (log2 ? p.log2_bits > 4
           : (p.tokens > 256 || p.prob_zero_point < -256 || p.prob_reciprocal_q16 < 0 ||
              p.prob_reciprocal_q16 >= (int64_t{1} << 31))) {
    return softmax_from_exp_ref(p, exp, probs);
  }
  if (log2) return log2_codes(p, exp, static_cast<uint64_t>(sum), probs);
  uniform_codes(p, exp, sum, probs);
}

}  // namespace fqvit::kernels
