// The fused requantization epilogue in AVX-512 (F + BW + VL), shared by the VNNI and AMX kernels: 16 int32
// accumulators -> 16 codes, exactly requantize() of quant/fixed_multiplier.h:
//
//   code = clamp(zero_point + floor((acc * mantissa_q31 + 2^(s - 1)) / 2^s), lo, hi),   s = 31 - exponent
//
// The product and the rounding term are formed in int64 lanes (8 per zmm, two zmm per 16 channels): vpmuldq
// multiplies the sign-extended low dwords exactly, |acc * mantissa| <= 2^62 and + 2^61 stays below 2^63, vpsravq
// is the arithmetic (floor) shift. The zero point is added in int64 too; the int64 -> int32 narrowing saturates
// (vpmovsqd), which changes nothing after the clamp because lo and hi are int32 themselves.
// Include only from files compiled with -mavx512f -mavx512bw -mavx512vl.
#pragma once

#include "kernels/x86/immintrin_quiet.h"

#include <cstdint>

#include "fqvit/kernels/gemm.h"

namespace fqvit::kernels {

static_assert(sizeof(FixedMultiplier) == 8 && alignof(FixedMultiplier) == 4,
              "the epilogue reads FixedMultiplier[] as interleaved {mantissa_q31, exponent} int32 pairs");

// Requantization constants of 16 consecutive output channels, in int64 lanes.
struct RequantLanes {
  __m512i mantissa[2];
  __m512i shift[2];
  __m512i rounding[2];  // 2^(s - 1)
  __m512i zero_point;   // int64 lanes
  __m512i lo;           // int32 lanes
  __m512i hi;
};

// Loads channels [0, count) of `multiplier` (count <= 16); the missing lanes get {0, 0} (s = 31, output unused).
inline RequantLanes load_requant_lanes(const FixedMultiplier* multiplier, int count, const RequantParams& rq) {
  const auto* pairs = reinterpret_cast<const int32_t*>(multiplier);
  const int ints = 2 * count;
  const __mmask16 m0 = static_cast<__mmask16>(ints >= 16 ? 0xFFFF : (1u << ints) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(ints <= 16 ? 0 : (1u << (ints - 16)) - 1);
  const __m512i v0 = _mm512_maskz_loadu_epi32(m0, pairs);
  const __m512i v1 = _mm512_maskz_loadu_epi32(m1, pairs + 16);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i mantissa = _mm512_permutex2var_epi32(v0, even, v1);
  const __m512i shift = _mm512_sub_epi32(_mm512_set1_epi32(31), _mm512_permutex2var_epi32(v0, odd, v1));
  RequantLanes q;
  const __m512i one = _mm512_set1_epi64(1);
  for (int h = 0; h < 2; ++h) {
    const __m256i m_half = h == 0 ? _mm512_castsi512_si256(mantissa) : _mm512_extracti64x4_epi64(mantissa, 1);
    const __m256i s_half = h == 0 ? _mm512_castsi512_si256(shift) : _mm512_extracti64x4_epi64(shift, 1);
    q.mantissa[h] = _mm512_cvtepi32_epi64(m_half);
    q.shift[h] = _mm512_cvtepi32_epi64(s_half);
    q.rounding[h] = _mm512_sllv_epi64(one, _mm512_sub_epi64(q.shift[h], one));
  }
  q.zero_point = _mm512_set1_epi64(rq.zero_point);
  q.lo = _mm512_set1_epi32(rq.lo);
  q.hi = _mm512_set1_epi32(rq.hi);
  return q;
}

// 16 accumulators -> 16 requantized values in [lo, hi], int32 lanes.
inline __m512i requantize_lanes(__m512i acc, const RequantLanes& q) {
  __m256i narrowed[2];
  for (int h = 0; h < 2; ++h) {
    const __m256i a_half = h == 0 ? _mm512_castsi512_si256(acc) : _mm512_extracti64x4_epi64(acc, 1);
    __m512i v = _mm512_mul_epi32(_mm512_cvtepi32_epi64(a_half), q.mantissa[h]);
    v = _mm512_srav_epi64(_mm512_add_epi64(v, q.rounding[h]), q.shift[h]);
    narrowed[h] = _mm512_cvtsepi64_epi32(_mm512_add_epi64(v, q.zero_point));
  }
  const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(narrowed[0]), narrowed[1], 1);
  return _mm512_min_epi32(_mm512_max_epi32(v, q.lo), q.hi);
}

inline __mmask16 lane_mask(int64_t count) {
  return static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << count) - 1);
}

// Stores 16 int32 lanes already in [0, 255] as bytes (the first `count`).
inline void store_codes_u8(uint8_t* out, __m512i codes, __mmask16 mask) {
  _mm_mask_storeu_epi8(out, mask, _mm512_cvtepi32_epi8(codes));
}

}  // namespace fqvit::kernels
