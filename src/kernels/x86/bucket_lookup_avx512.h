// The bucket-table lookup of gemm.h's lookup form (GELU: GeluParams::bucket_packed) on 16 int32 lanes, shared by the
// fused fc1 + GELU epilogue (gemm_avx512_vnni.cc) and the GELU pass (elementwise_avx512.cc). One gather per 16 codes.
// Include only from files compiled with -mavx512f -mavx512bw -mavx512vl.
#pragma once

#include "kernels/x86/immintrin_quiet.h"

#include "fqvit/kernels/gemm.h"

namespace fqvit::kernels {

// out = (e & 255) + (offset >= e >> 10 ? ((e >> 8) & 3) - 1 : 0), e = packed[offset >> shift], offset = h - origin,
// for h already in [origin, last]; only the lanes of `mask` are gathered (the others give unspecified codes).
inline __m512i bucket_lookup_in_range(__m512i h, const BucketLookup& lut, __mmask16 mask) {
  const __m512i offset = _mm512_sub_epi32(h, _mm512_set1_epi32(lut.origin));  // >= 0: unsigned shift is floor
  const __m512i bucket = _mm512_srl_epi32(offset, _mm_cvtsi32_si128(lut.shift));
  const __m512i e = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, bucket, lut.packed, 4);
  const __m512i in_bucket = _mm512_and_si512(offset, _mm512_set1_epi32(static_cast<int32_t>((1u << lut.shift) - 1)));
  const __m512i code = _mm512_and_si512(e, _mm512_set1_epi32(0xFF));
  const __m512i delta =
      _mm512_sub_epi32(_mm512_and_si512(_mm512_srli_epi32(e, 8), _mm512_set1_epi32(3)), _mm512_set1_epi32(1));
  const __mmask16 stepped = _mm512_cmpge_epi32_mask(in_bucket, _mm512_srli_epi32(e, 10));
  return _mm512_mask_add_epi32(code, stepped, code, delta);
}

// The same for any h: hc = clamp(h, origin, last) first.
inline __m512i bucket_lookup(__m512i h, const BucketLookup& lut, __mmask16 mask) {
  const __m512i hc = _mm512_min_epi32(_mm512_max_epi32(h, _mm512_set1_epi32(lut.origin)), _mm512_set1_epi32(lut.last));
  return bucket_lookup_in_range(hc, lut, mask);
}

}  // namespace fqvit::kernels
