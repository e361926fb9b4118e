// One attention head in AVX-512, bit-exact with attention_ref.cc:
//   q k^T: (q - zp) and (k - zp) as int16 pairs, vpdpwssd (int16 x int16 pairs -> int32, exact: |acc| <= head_dim
//          255^2), 16 keys per zmm from a pair-interleaved copy of K; the requantization is requant_avx512.h's.
//   Log-Int-Softmax: the i-exp values gathered from the 256-entry table; the code k = #{j : 2 sum >= (2 T_j - 1) e}
//          (attention_ref.cc) becomes #{j : e <= floor(2 sum / (2 T_j - 1))}, the same test for integers e >= 0,
//          c > 0, with the 2^b thresholds divided once per row: 2^b int32 compares per 16 codes, no division.
//   attn x V: (v - zp) in int32 lanes, each row times its weight 2^(2^b - 1 - k) (a shift) or p - zp_p (uniform),
//          the same exact int32 sums as the reference in the same bounds.
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <vector>

#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kLanes = 16;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// One (head-local) copy of the head's operands, reused by the thread across heads.
struct HeadOperands {
  std::vector<int32_t> q_pairs;  // [T][pairs]: (q[2i] - zp) | (q[2i + 1] - zp) << 16, odd head_dim padded with 0
  std::vector<int32_t> k_pairs;  // [pairs][T rounded up to 16]: the same pairs of each key, keys contiguous
  std::vector<int32_t> v_lanes;  // [T][head_dim rounded up to 64]: v - zp
  std::vector<uint8_t> logit_row;
};

HeadOperands& thread_operands() {
  thread_local HeadOperands ops;
  return ops;
}

int32_t pair(int32_t lo, int32_t hi) {
  return static_cast<int32_t>((static_cast<uint32_t>(lo) & 0xFFFFu) | (static_cast<uint32_t>(hi) << 16));
}

void load_qk(const AttentionParams& p, const uint8_t* qkv, int64_t h, HeadOperands& ops) {
  const int64_t t_count = p.tokens, dh = p.head_dim, dim = p.heads * dh, ld = 3 * dim;
  const int64_t pairs = (dh + 1) / 2, keys = round_up(t_count, kLanes);
  const int32_t zp = p.qkv_zero_point;
  ops.q_pairs.assign(static_cast<size_t>(t_count * pairs), 0);
  ops.k_pairs.assign(static_cast<size_t>(pairs * keys), 0);
  const uint8_t* q = qkv + h * dh;
  const uint8_t* k = qkv + dim + h * dh;
  for (int64_t t = 0; t < t_count; ++t) {
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t d = 2 * i;
      const int32_t q1 = d + 1 < dh ? int32_t{q[t * ld + d + 1]} - zp : 0;
      const int32_t k1 = d + 1 < dh ? int32_t{k[t * ld + d + 1]} - zp : 0;
      ops.q_pairs[static_cast<size_t>(t * pairs + i)] = pair(int32_t{q[t * ld + d]} - zp, q1);
      ops.k_pairs[static_cast<size_t>(i * keys + t)] = pair(int32_t{k[t * ld + d]} - zp, k1);
    }
  }
}

// Logit codes of query row t against every key: NV zmm of 16 keys at a time.
template <int NV>
void logits_block(const HeadOperands& ops, int64_t pairs, int64_t keys, int64_t t, int64_t s0, const RequantLanes& rq,
                  int64_t t_count, uint8_t* row) {
  __m512i acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_si512();
  const int32_t* qp = ops.q_pairs.data() + t * pairs;
  const int32_t* kp = ops.k_pairs.data() + s0;
  for (int64_t i = 0; i < pairs; ++i) {
    const __m512i qb = _mm512_set1_epi32(qp[i]);
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_dpwssd_epi32(acc[v], qb, _mm512_loadu_si512(kp + i * keys + v * kLanes));
  }
  for (int v = 0; v < NV; ++v) {
    const int64_t s = s0 + v * kLanes;
    store_codes_u8(row + s, requantize_lanes(acc[v], rq), lane_mask(t_count - s));
  }
}

void logits_row(const AttentionParams& p, const HeadOperands& ops, int64_t t, const RequantLanes& rq, uint8_t* row) {
  const int64_t pairs = (p.head_dim + 1) / 2, keys = round_up(p.tokens, kLanes);
  int64_t s = 0;
  for (; s + 4 * kLanes <= keys; s += 4 * kLanes) logits_block<4>(ops, pairs, keys, t, s, rq, p.tokens, row);
  for (; s < keys; s += kLanes) logits_block<1>(ops, pairs, keys, t, s, rq, p.tokens, row);
}

RequantLanes logit_lanes(const AttentionParams& p) {
  FixedMultiplier m[kLanes];
  std::fill(m, m + kLanes, p.score_multiplier);
  RequantParams rq;
  rq.multiplier = m;
  rq.zero_point = p.logit_zero_point, rq.lo = p.logit_lo, rq.hi = p.logit_hi;
  return load_requant_lanes(m, kLanes, rq);
}

RequantLanes context_lanes(const AttentionParams& p) {
  FixedMultiplier m[kLanes];
  std::fill(m, m + kLanes, p.context_multiplier);
  RequantParams rq;
  rq.multiplier = m;
  rq.zero_point = p.out_zero_point, rq.lo = p.lo, rq.hi = p.hi;
  return load_requant_lanes(m, kLanes, rq);
}

int64_t hsum_epi32_as_epi64(__m512i v) {
  const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
  const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
  return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

void load_v(const AttentionParams& p, const uint8_t* qkv, int64_t h, HeadOperands& ops) {
  const int64_t t_count = p.tokens, dh = p.head_dim, dim = p.heads * dh, ld = 3 * dim, width = round_up(dh, 64);
  const uint8_t* v = qkv + 2 * dim + h * dh;
  ops.v_lanes.assign(static_cast<size_t>(t_count * width), 0);
  const __m512i zp = _mm512_set1_epi32(p.qkv_zero_point);
  for (int64_t s = 0; s < t_count; ++s) {
    for (int64_t d = 0; d < dh; d += kLanes) {
      const __mmask16 m = lane_mask(dh - d);
      const __m512i codes = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, v + s * ld + d));
      _mm512_mask_storeu_epi32(ops.v_lanes.data() + s * width + d, m, _mm512_sub_epi32(codes, zp));
    }
  }
}

// Context row t of the head from its probability codes.
void context_row(const AttentionParams& p, const HeadOperands& ops, const uint8_t* pr, const RequantLanes& rq,
                 uint8_t* out_row) {
  const int64_t t_count = p.tokens, dh = p.head_dim, width = round_up(dh, 64);
  const int32_t zero_code = int32_t{1} << p.log2_bits, top_shift = zero_code - 1;
  const bool log2 = p.softmax == SoftmaxKind::kLog2;
  for (int64_t d0 = 0; d0 < width; d0 += 64) {
    __m512i acc[4];
    for (auto& a : acc) a = _mm512_setzero_si512();
    for (int64_t s = 0; s < t_count; ++s) {
      const int32_t* vs = ops.v_lanes.data() + s * width + d0;
      if (log2) {
        if (pr[s] >= zero_code) continue;  // exactly zero weight
        const __m128i shift = _mm_cvtsi32_si128(top_shift - pr[s]);
        for (int i = 0; i < 4; ++i) acc[i] = _mm512_add_epi32(acc[i], _mm512_sll_epi32(_mm512_loadu_si512(vs + i * kLanes), shift));
      } else {
        const __m512i w = _mm512_set1_epi32(int32_t{pr[s]} - p.prob_zero_point);
        for (int i = 0; i < 4; ++i) acc[i] = _mm512_add_epi32(acc[i], _mm512_mullo_epi32(_mm512_loadu_si512(vs + i * kLanes), w));
      }
    }
    for (int i = 0; i < 4; ++i) {
      const int64_t d = d0 + i * kLanes;
      if (d >= dh) break;
      store_codes_u8(out_row + d, requantize_lanes(acc[i], rq), lane_mask(dh - d));
    }
  }
}

}  // namespace

void softmax_row_avx512(const AttentionParams& p, const uint8_t* logits, int32_t* exp, uint8_t* probs) {
  if (p.softmax != SoftmaxKind::kLog2) return softmax_row_ref(p, logits, exp, probs);  // one int64 division per code
  const int64_t t_count = p.tokens;
  __m512i vmax = _mm512_setzero_si512();
  for (int64_t s = 0; s < t_count; s += 64) {
    vmax = _mm512_max_epu8(vmax, _mm512_maskz_loadu_epi8(t_count - s >= 64 ? ~__mmask64{0} : (__mmask64{1} << (t_count - s)) - 1, logits + s));
  }
  const __m512i max16 = _mm512_max_epu16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(vmax)),
                                         _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(vmax, 1)));
  const int32_t row_max = _mm512_reduce_max_epi32(_mm512_max_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(max16)),
                                                                   _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(max16, 1))));
  const __m512i vrow_max = _mm512_set1_epi32(row_max);
  int64_t sum = 0;  // < T 2^31
  for (int64_t s = 0; s < t_count; s += kLanes) {
    const __mmask16 m = lane_mask(t_count - s);
    const __m512i idx = _mm512_sub_epi32(vrow_max, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, logits + s)));
    const __m512i e = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, p.exp_table.data(), 4);
    _mm512_mask_storeu_epi32(exp + s, m, e);
    sum += hsum_epi32_as_epi64(e);
  }
  // e <= floor(2 sum / c_j), c_1 = 3, c_j = 3 2^(j-1) - 1: thresholds decrease with j; e < 2^31, so one above
  // INT32_MAX passes every e and is clamped there.
  const int32_t zero_code = int32_t{1} << p.log2_bits;
  assert(zero_code <= 32);
  __m512i threshold[32];
  for (int32_t j = 1; j <= zero_code; ++j) {
    const int64_t c = j == 1 ? 3 : (int64_t{3} << (j - 1)) - 1;
    threshold[j - 1] = _mm512_set1_epi32(static_cast<int32_t>(std::min<int64_t>(2 * sum / c, INT32_MAX)));
  }
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t s = 0; s < t_count; s += kLanes) {
    const __mmask16 m = lane_mask(t_count - s);
    const __m512i e = _mm512_maskz_loadu_epi32(m, exp + s);
    __m512i k = _mm512_setzero_si512();
    for (int32_t j = 0; j < zero_code; ++j) k = _mm512_mask_add_epi32(k, _mm512_cmple_epi32_mask(e, threshold[j]), k, one);
    store_codes_u8(probs + s, k, m);
  }
}

void attention_logits_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits) {
  HeadOperands& ops = thread_operands();
  load_qk(p, qkv, h, ops);
  const RequantLanes rq = logit_lanes(p);
  for (int64_t t = 0; t < p.tokens; ++t) logits_row(p, ops, t, rq, logits + t * p.tokens);
}

void attention_context_avx512(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h,
                              uint8_t* out) {
  HeadOperands& ops = thread_operands();
  load_v(p, qkv, h, ops);
  const RequantLanes rq = context_lanes(p);
  const int64_t dim = p.heads * p.head_dim;
  for (int64_t t = 0; t < p.tokens; ++t) context_row(p, ops, probs + t * p.tokens, rq, out + t * dim + h * p.head_dim);
}

void attention_head_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, AttentionScratch& scratch,
                           uint8_t* out) {
  const int64_t t_count = p.tokens, dim = p.heads * p.head_dim;
  HeadOperands& ops = thread_operands();
  load_qk(p, qkv, h, ops);
  load_v(p, qkv, h, ops);
  ops.logit_row.resize(static_cast<size_t>(round_up(t_count, 64)));
  scratch.probs.resize(static_cast<size_t>(t_count));
  scratch.exp.resize(static_cast<size_t>(t_count));
  const RequantLanes logit_rq = logit_lanes(p), context_rq = context_lanes(p);
  // Row by row: logits -> probability codes -> context, all in L1.
  for (int64_t t = 0; t < t_count; ++t) {
    logits_row(p, ops, t, logit_rq, ops.logit_row.data());
    softmax_row_avx512(p, ops.logit_row.data(), scratch.exp.data(), scratch.probs.data());
    context_row(p, ops, scratch.probs.data(), context_rq, out + t * dim + h * p.head_dim);
  }
}

}  // namespace fqvit::kernels
