// The fused requantization epilogue in AVX-512 (F + BW + VL), shared by the VNNI and AMX kernels: 16 int32
// accumulators -> 16 codes, exactly requantize() of quant/fixed_multiplier.h:
//
//   code = clamp(zero_point + floor((acc * mantissa_q31 + 2^(s - 1)) / 2^s), lo, hi),   s = 31 - exponent
// (plus the channel's rounding offset when given, gemm.h)
//
// The product and the rounding term are formed in int64 lanes (8 per zmm, two zmm per 16 channels): vpmuldq
// multiplies the sign-extended low dwords exactly, |acc * mantissa| <= 2^62 and + 2^61 stays below 2^63, vpsravq
// is the arithmetic (floor) shift, and the clamp is done in int64 before anything is narrowed.
// Include only from files compiled with -mavx512f -mavx512bw -mavx512vl.
#pragma once

#include "kernels/x86/immintrin_quiet.h"

#include <cstdint>

#include "fqvit/kernels/gemm.h"

namespace fqvit::kernels {

static_assert(sizeof(FixedMultiplier) == 8 && alignof(FixedMultiplier) == 4,
              "the epilogue reads FixedMultiplier[] as interleaved {mantissa_q31, exponent} int32 pairs");

// Requantization constants of 16 consecutive output channels, split into the even channels (0, 2, .., 14) and the
// odd ones (1, 3, .., 15), one channel per int64 lane: vpmuldq reads the low dword of each qword, so the even
// channels of a vector of 16 int32 sums are multiplied in place and the odd ones after a 32-bit shift, with no
// lane-crossing widening or narrowing.
struct RequantLanes {
  __m512i mantissa_even, mantissa_odd;  // low dword of each qword
  __m512i shift_even, shift_odd;        // s = 31 - exponent, int64 lanes
  __m512i rounding_even, rounding_odd;  // 2^(s - 1), int64 lanes
  __m512i lo, hi;                       // lo - zero_point, hi - zero_point, int64 lanes
  __m512i zero_point;                   // int32 lanes
};

// Loads channels [0, count) of `multiplier` (count <= 16), which points into rq.multiplier; the missing lanes get
// {0, 0} (s = 31, output unused). With rq.rounding_offset the same channels' offsets are added to 2^(s - 1).
inline RequantLanes load_requant_lanes(const FixedMultiplier* multiplier, int count, const RequantParams& rq) {
  const auto* pairs = reinterpret_cast<const int32_t*>(multiplier);
  const int ints = 2 * count;
  const __mmask16 m0 = static_cast<__mmask16>(ints >= 16 ? 0xFFFF : (1u << ints) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(ints <= 16 ? 0 : (1u << (ints - 16)) - 1);
  const __m512i v0 = _mm512_maskz_loadu_epi32(m0, pairs);
  const __m512i v1 = _mm512_maskz_loadu_epi32(m1, pairs + 16);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i mantissa = _mm512_permutex2var_epi32(v0, even, v1);  // channel order, int32 lanes
  const __m512i shift = _mm512_sub_epi32(_mm512_set1_epi32(31), _mm512_permutex2var_epi32(v0, odd, v1));
  RequantLanes q;
  q.mantissa_even = mantissa;
  q.mantissa_odd = _mm512_srli_epi64(mantissa, 32);
  q.shift_even = _mm512_and_si512(shift, _mm512_set1_epi64(0xFFFFFFFF));  // s > 0: the low dword is the value
  q.shift_odd = _mm512_srli_epi64(shift, 32);
  const __m512i one = _mm512_set1_epi64(1);
  q.rounding_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(q.shift_even, one));
  q.rounding_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(q.shift_odd, one));
  if (rq.rounding_offset != nullptr) {  // int32 offsets in channel order: sign-extend the low / high dwords
    const __m512i offset = _mm512_maskz_loadu_epi32(static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << count) - 1),
                                                    rq.rounding_offset + (multiplier - rq.multiplier));
    q.rounding_even = _mm512_add_epi64(q.rounding_even, _mm512_srai_epi64(_mm512_slli_epi64(offset, 32), 32));
    q.rounding_odd = _mm512_add_epi64(q.rounding_odd, _mm512_srai_epi64(offset, 32));
  }
  q.lo = _mm512_set1_epi64(int64_t{rq.lo} - rq.zero_point);
  q.hi = _mm512_set1_epi64(int64_t{rq.hi} - rq.zero_point);
  q.zero_point = _mm512_set1_epi32(rq.zero_point);
  return q;
}

// 16 accumulators -> 16 requantized values in [lo, hi], int32 lanes. clamp(v + zp, lo, hi) is computed as
// clamp(v, lo - zp, hi - zp) + zp: the clamp is exact in int64, and the int32 add of zp lands in [lo, hi] (if
// lo - zp does not fit int32, its low dword wraps and the add wraps back).
inline __m512i requantize_lanes(__m512i acc, const RequantLanes& q) {
  __m512i even = _mm512_mul_epi32(acc, q.mantissa_even);  // exact: |acc * mantissa| <= 2^62
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), q.mantissa_odd);
  even = _mm512_srav_epi64(_mm512_add_epi64(even, q.rounding_even), q.shift_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, q.rounding_odd), q.shift_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, q.lo), q.hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, q.lo), q.hi);
  const __m512i merged = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_add_epi32(merged, q.zero_point);
}

inline __mmask16 lane_mask(int64_t count) {
  return static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << count) - 1);
}

// Stores 8 int64 lanes already in [0, 255] as bytes (the lanes of `mask`). The narrowing is done in registers and
// a full group goes out as one 8-byte store: vpmovqb with a memory operand and a mask is microcoded on AMD Zen
// (it was a fifth of the LayerNorm kernel's time).
inline void store_codes_u8_from_epi64(uint8_t* out, __m512i codes, __mmask8 mask) {
  const __m128i bytes = _mm512_cvtepi64_epi8(codes);
  if (mask == 0xFF) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
  } else {
    _mm_mask_storeu_epi8(out, mask, bytes);
  }
}

// Stores 16 int32 lanes already in [0, 255] as bytes (the lanes of `mask`); a full group as one 16-byte store
// (GCC turns the masked form into vpmovdb to memory, microcoded on AMD Zen).
inline void store_codes_u8(uint8_t* out, __m512i codes, __mmask16 mask) {
  const __m128i bytes = _mm512_cvtepi32_epi8(codes);
  if (mask == 0xFFFF) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
  } else {
    _mm_mask_storeu_epi8(out, mask, bytes);
  }
}

}  // namespace fqvit::kernels
