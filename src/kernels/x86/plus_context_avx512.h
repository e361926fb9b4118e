// The requantization of attn x V's context in the rows kernel (attention_rows_avx512.cc): per tensor (the paper's
// AttentionParams::context_multiplier and out_zero_point) or per output channel (fqvit_plus, AttentionChannelOp:
// ChannelRequantParams over the head's channels). Per channel the multipliers are just vectors (requant_avx512.h
// loads 16 of them at a time); the zero point and [lo, hi] follow in int32 after the value is clamped to +-2^30,
// which is attention_context_channel_ref's clamp(zp + v, lo, hi) exactly while |zp| < 2^29 and 0 <= lo <= hi <= 255
// (the dispatch checks it). Include only from files compiled with -mavx512f -mavx512bw -mavx512vl.
#pragma once

#include "kernels/x86/immintrin_quiet.h"

#include <cstdint>

#include "fqvit/kernels/int_ops_plus.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {

constexpr int64_t kContextChannelMaxHeadDim = 256;  // the per-channel lanes of a head live on the stack

struct ContextRequant {
  const RequantLanes* lanes = nullptr;     // per tensor: one entry; per channel: one per 16 channels of the head
  const __m512i* zero_point = nullptr;     // per channel only
  __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();

  __m512i codes(__m512i acc, int64_t block) const {
    if (zero_point == nullptr) return requantize_lanes(acc, lanes[0]);
    const __m512i v = _mm512_add_epi32(requantize_lanes(acc, lanes[block]), zero_point[block]);
    return _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
  }
};

// The per-channel lanes of head h (head_dim <= kContextChannelMaxHeadDim) into lanes / zero_point.
inline ContextRequant channel_context_requant(const ChannelRequantParams& q, int64_t head_dim, int64_t h,
                                              RequantLanes* lanes, __m512i* zero_point) {
  constexpr int32_t kWide = int32_t{1} << 30;
  RequantParams rq;
  rq.multiplier = q.multiplier.data();
  rq.zero_point = 0, rq.lo = -kWide, rq.hi = kWide;
  for (int64_t d = 0, b = 0; d < head_dim; d += 16, ++b) {
    const int count = static_cast<int>(head_dim - d < 16 ? head_dim - d : 16);
    lanes[b] = load_requant_lanes(q.multiplier.data() + h * head_dim + d, count, rq);
    zero_point[b] = _mm512_maskz_loadu_epi32(lane_mask(count), q.zero_point.data() + h * head_dim + d);
  }
  ContextRequant c;
  c.lanes = lanes, c.zero_point = zero_point;
  c.lo = _mm512_set1_epi32(q.lo), c.hi = _mm512_set1_epi32(q.hi);
  return c;
}

}  // namespace fqvit::kernels
