// Swin's window-attention stages in AVX-512, bit-exact with swin_ref.cc:
//   bias add: L = clamp(zp_b + ((A - zp_a) m_a + bias + 2^(s-1)) >> s) in int64 lanes, 8 logits per vector:
//          vpmuldq multiplies the sign-extended (A - zp_a) (|.| <= 255) by the mantissa (< 2^31) exactly, |product| <
//          2^39, |bias| < 2^39, so the sum and the rounding term stay far below 2^63; vpsraq is the floor shift, the
//          clamp is done in int64 before narrowing.
//   masked softmax: per row i of window w, lanes j with region[w][j] == region[w][i] are kept (a byte compare of the
//          window's labels); the row maximum over the kept logits (masked ones load as 0, which the reference's
//          start value 0 already is), e = exp_table[max - code] by a gather on the kept lanes and exactly 0 on the
//          others, the row sum in int64 lanes (< T 2^31), then the codes from the exps as the plain softmax
//          (softmax_from_exp_avx512).
//   plain softmax of a window's rows: the VBMI form of softmax_avx512vbmi.cc four rows at a time, its table
//          built once per window and head, else the gather form (softmax_row_avx512) row by row.
#include <cstddef>

#include "kernels/cpu_features.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/requant_avx512.h"
#include "kernels/x86/swin_x86.h"

namespace fqvit::kernels {

void swin_bias_logits_avx512(const SwinAttentionParams& p, int64_t h, const uint8_t* a, uint8_t* out) {
  const int64_t square = p.attention.tokens * p.attention.tokens;
  const int64_t* bias = p.bias.data() + h * square;
  const int32_t s = p.a_multiplier.right_shift();
  const __m512i zp_a = _mm512_set1_epi64(p.a_zero_point), mantissa = _mm512_set1_epi64(p.a_multiplier.mantissa_q31);
  const __m512i rounding = _mm512_set1_epi64(int64_t{1} << (s - 1)), shift = _mm512_set1_epi64(s);
  const __m512i lo = _mm512_set1_epi64(int64_t{p.biased_lo} - p.biased_zero_point);
  const __m512i hi = _mm512_set1_epi64(int64_t{p.biased_hi} - p.biased_zero_point);
  const __m512i zp_b = _mm512_set1_epi64(p.biased_zero_point);
  for (int64_t ij = 0; ij < square; ij += 8) {
    const int64_t left = square - ij;
    const auto m = static_cast<__mmask8>(left >= 8 ? 0xFF : (1u << left) - 1);
    const __m512i codes = _mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(m, a + ij));
    const __m512i product = _mm512_mul_epi32(_mm512_sub_epi64(codes, zp_a), mantissa);
    const __m512i sum = _mm512_add_epi64(_mm512_add_epi64(product, _mm512_maskz_loadu_epi64(m, bias + ij)), rounding);
    const __m512i v = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(sum, shift), lo), hi);
    store_codes_u8_from_epi64(out + ij, _mm512_add_epi64(v, zp_b), m);
  }
}

void swin_softmax_rows_avx512(const SwinAttentionParams& p, const uint8_t* logits, int32_t* exp_scratch,
                              uint8_t* probs) {
  const AttentionParams& a = p.attention;
  const int64_t n = a.tokens;
  if (cpu_has_avx512_vbmi()) {
    SoftmaxLut lut;  // once per window and head, for its N rows
    prepare_softmax_avx512vbmi(a, lut);
    if (softmax_vbmi_supports(a, lut)) {
      alignas(64) int32_t e[kMaxSoftmaxRows * 256];  // the uniform form's bound T <= 256 (softmax_vbmi_supports)
      for (int64_t i = 0; i < n; i += kMaxSoftmaxRows) {
        const int rows = static_cast<int>(n - i < kMaxSoftmaxRows ? n - i : kMaxSoftmaxRows);
        softmax_rows_avx512vbmi(a, lut, logits + i * n, n, rows, e, probs + i * n, n);
      }
      return;
    }
  }
  for (int64_t i = 0; i < n; ++i) softmax_row_avx512(a, logits + i * n, exp_scratch, probs + i * n);
}

void swin_masked_softmax_avx512(const SwinAttentionParams& p, int64_t window, const uint8_t* logits,
                                int32_t* exp_scratch, uint8_t* probs) {
  const AttentionParams& a = p.attention;
  const int64_t n = a.tokens;
  const uint8_t* region = p.region.data() + window * n;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* row = logits + i * n;
    const __m128i label = _mm_set1_epi8(static_cast<char>(region[i]));
    __m512i vmax = _mm512_setzero_si512();
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = lane_mask(n - j);
      const __mmask16 keep = _mm_mask_cmpeq_epu8_mask(m, _mm_maskz_loadu_epi8(m, region + j), label);
      vmax = _mm512_max_epu32(vmax, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(keep, row + j)));
    }
    const __m512i row_max = _mm512_set1_epi32(_mm512_reduce_max_epi32(vmax));
    __m512i sum_lo = _mm512_setzero_si512(), sum_hi = _mm512_setzero_si512();
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = lane_mask(n - j);
      const __mmask16 keep = _mm_mask_cmpeq_epu8_mask(m, _mm_maskz_loadu_epi8(m, region + j), label);
      const __m512i idx = _mm512_sub_epi32(row_max, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(keep, row + j)));
      const __m512i e = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), keep, idx, a.exp_table.data(), 4);
      _mm512_mask_storeu_epi32(exp_scratch + j, m, e);
      sum_lo = _mm512_add_epi64(sum_lo, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(e)));
      sum_hi = _mm512_add_epi64(sum_hi, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(e, 1)));
    }
    softmax_from_exp_avx512(a, exp_scratch, _mm512_reduce_add_epi64(_mm512_add_epi64(sum_lo, sum_hi)), probs + i * n);
  }
}

}  // namespace fqvit::kernels
