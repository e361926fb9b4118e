// The per-channel epilogue of gemm.h's ChannelEpilogue on 16 int32 lanes (the fqvit_plus linears and fc1 + GELU
// groups), fused into the VNNI GEMM (gemm_avx512_vnni.cc) after requant_avx512.h's requantization to h. Per-channel
// zero points and bucket tables are just vectors: one masked load each per 16 channels, one gather per 16 codes.
// Include only from files compiled with -mavx512f -mavx512bw -mavx512vl.
#pragma once

#include "kernels/x86/immintrin_quiet.h"

#include "fqvit/kernels/gemm.h"

namespace fqvit::kernels {

// The constants of 16 consecutive channels (missing lanes: zero, never stored).
struct ChannelLanes {
  __m512i zero_point, origin, last, shift, base, lo, hi;
};

inline ChannelLanes load_channel_lanes(const ChannelEpilogue& ep, int64_t n0, __mmask16 mask) {
  ChannelLanes l;
  l.zero_point = _mm512_maskz_loadu_epi32(mask, ep.zero_point + n0);
  l.lo = _mm512_set1_epi32(ep.lo);
  l.hi = _mm512_set1_epi32(ep.hi);
  if (ep.gelu_packed != nullptr) {
    l.origin = _mm512_maskz_loadu_epi32(mask, ep.origin + n0);
    l.last = _mm512_maskz_loadu_epi32(mask, ep.last + n0);
    l.shift = _mm512_maskz_loadu_epi32(mask, ep.shift + n0);
    l.base = _mm512_maskz_loadu_epi32(mask, ep.base + n0);
  } else {
    l.origin = l.last = l.shift = l.base = _mm512_setzero_si512();
  }
  return l;
}

// h (int32 lanes, |h| <= 2^30) -> codes in [lo, hi]. zero_point + h and zero_point + v cannot wrap: |zero_point| <
// 2^29 (checked by the callers), |v| <= 512.
inline __m512i channel_epilogue(__m512i h, const ChannelEpilogue& ep, const ChannelLanes& l, __mmask16 mask) {
  __m512i v = h;
  if (ep.gelu_packed != nullptr) {
    const __m512i hc = _mm512_min_epi32(_mm512_max_epi32(h, l.origin), l.last);
    const __m512i offset = _mm512_sub_epi32(hc, l.origin);  // in [0, 2^32): unsigned, so the shift is logical
    const __m512i bucket = _mm512_srlv_epi32(offset, l.shift);
    const __m512i e =
        _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, _mm512_add_epi32(l.base, bucket), ep.gelu_packed, 4);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i in_bucket = _mm512_and_si512(offset, _mm512_sub_epi32(_mm512_sllv_epi32(one, l.shift), one));
    v = _mm512_sub_epi32(_mm512_and_si512(e, _mm512_set1_epi32(1023)), _mm512_set1_epi32(512));
    const __m512i delta = _mm512_sub_epi32(_mm512_and_si512(_mm512_srli_epi32(e, 10), _mm512_set1_epi32(3)), one);
    const __mmask16 stepped = _mm512_cmpge_epi32_mask(in_bucket, _mm512_srli_epi32(e, 12));
    v = _mm512_mask_add_epi32(v, stepped, v, delta);
  }
  return _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, l.zero_point), l.lo), l.hi);
}

}  // namespace fqvit::kernels
