// One attention head in AVX-512, bit-exact with attention_ref.cc:
//   q k^T: (q - zp) and (k - zp) as int16 pairs, vpdpwssd (int16 x int16 pairs -> int32, exact: |acc| <= head_dim
//          255^2), 16 keys per zmm from a pair-interleaved copy of K; the requantization is requant_avx512.h's.
//   softmax: softmax_avx512.cc.
//   attn x V: vpdpwssd again, over pairs of tokens: V as int16 pairs (v[s] - zp, v[s + 1] - zp) per channel, the
//          weights 2^(2^b - 1 - k) (log2; 0 for the zero code) or p - zp_p (uniform) as int16 pairs. A log2 weight
//          of 2^15 (k = 0 at 4 bits) does not fit int16: it enters as 2^14 and the token's row is added once more
//          times 2^14; k = 0 needs e > 2 sum / 3, so a row has at most one such token. The sums are the
//          reference's exact int32 sums (each partial sum within the reference's bound).
// No std templates here (thread_scratch.h says why): buffers come from thread_scratch.
#include <cassert>
#include <cstddef>
#include <cstring>

#include "kernels/thread_scratch.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kLanes = 16;
enum Slot { kQPairs, kKPairs, kVPairs, kLogitRow, kProbRow, kExpRow, kWeightPairs };

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

template <typename T>
T* scratch(Slot slot, int64_t count) {
  return static_cast<T*>(thread_scratch(slot, count * static_cast<int64_t>(sizeof(T))));
}

int32_t pair(int32_t lo, int32_t hi) {
  return static_cast<int32_t>((static_cast<uint32_t>(lo) & 0xFFFFu) | (static_cast<uint32_t>(hi) << 16));
}

struct Shape {
  int64_t tokens, head_dim, dim, ld, pairs, keys, token_pairs, width;
  explicit Shape(const AttentionParams& p)
      : tokens(p.tokens), head_dim(p.head_dim), dim(p.heads * p.head_dim), ld(3 * dim), pairs((p.head_dim + 1) / 2),
        keys(round_up(p.tokens, kLanes)), token_pairs((p.tokens + 1) / 2), width(round_up(p.head_dim, 64)) {}
};

// q_pairs [T][pairs]: (q[2i] - zp) | (q[2i + 1] - zp) << 16 (odd head_dim padded with 0); k_pairs [pairs][keys]:
// the same pairs of each key, keys contiguous, zero past T.
void load_qk(const AttentionParams& p, const Shape& sh, const uint8_t* qkv, int64_t h) {
  int32_t* q_pairs = scratch<int32_t>(kQPairs, sh.tokens * sh.pairs);
  int32_t* k_pairs = scratch<int32_t>(kKPairs, sh.pairs * sh.keys);
  std::memset(k_pairs, 0, static_cast<size_t>(sh.pairs * sh.keys) * sizeof(int32_t));
  const int32_t zp = p.qkv_zero_point;
  const uint8_t* q = qkv + h * sh.head_dim;
  const uint8_t* k = qkv + sh.dim + h * sh.head_dim;
  for (int64_t t = 0; t < sh.tokens; ++t) {
    for (int64_t i = 0; i < sh.pairs; ++i) {
      const int64_t d = 2 * i;
      const int32_t q1 = d + 1 < sh.head_dim ? int32_t{q[t * sh.ld + d + 1]} - zp : 0;
      const int32_t k1 = d + 1 < sh.head_dim ? int32_t{k[t * sh.ld + d + 1]} - zp : 0;
      q_pairs[t * sh.pairs + i] = pair(int32_t{q[t * sh.ld + d]} - zp, q1);
      k_pairs[i * sh.keys + t] = pair(int32_t{k[t * sh.ld + d]} - zp, k1);
    }
  }
}

// Logit codes of query row t against keys [s0, s0 + 16 NV).
template <int NV>
void logits_block(const Shape& sh, const int32_t* q_row, const int32_t* k_pairs, int64_t s0, const RequantLanes& rq,
                  uint8_t* row) {
  __m512i acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_si512();
  for (int64_t i = 0; i < sh.pairs; ++i) {
    const __m512i qb = _mm512_set1_epi32(q_row[i]);
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_dpwssd_epi32(acc[v], qb, _mm512_loadu_si512(k_pairs + i * sh.keys + s0 + v * kLanes));
  }
  for (int v = 0; v < NV; ++v) {
    const int64_t s = s0 + v * kLanes;
    store_codes_u8(row + s, requantize_lanes(acc[v], rq), lane_mask(sh.tokens - s));
  }
}

void logits_row(const Shape& sh, int64_t t, const RequantLanes& rq, uint8_t* row) {
  const int32_t* q_row = scratch<int32_t>(kQPairs, 0) + t * sh.pairs;
  const int32_t* k_pairs = scratch<int32_t>(kKPairs, 0);
  int64_t s = 0;
  for (; s + 4 * kLanes <= sh.keys; s += 4 * kLanes) logits_block<4>(sh, q_row, k_pairs, s, rq, row);
  for (; s < sh.keys; s += kLanes) logits_block<1>(sh, q_row, k_pairs, s, rq, row);
}

RequantLanes per_tensor_lanes(FixedMultiplier multiplier, int32_t zero_point, int32_t lo, int32_t hi) {
  FixedMultiplier m[kLanes];
  for (auto& v : m) v = multiplier;
  RequantParams rq;
  rq.multiplier = m;
  rq.zero_point = zero_point, rq.lo = lo, rq.hi = hi;
  return load_requant_lanes(m, kLanes, rq);
}

// Context row of the head from one row of probability codes.
void context_row(const AttentionParams& p, const Shape& sh, const uint8_t* pr, const RequantLanes& rq, uint8_t* out_row) {
  const int32_t zero_code = int32_t{1} << p.log2_bits, top_shift = zero_code - 1;
  const bool log2 = p.softmax == SoftmaxKind::kLog2;
  int32_t* weights = scratch<int32_t>(kWeightPairs, sh.token_pairs);
  int64_t doubled = -1;  // the token whose log2 weight 2^15 entered as 2^14
  auto weight = [&](int64_t s) -> int32_t {
    if (s >= sh.tokens) return 0;
    if (!log2) return int32_t{pr[s]} - p.prob_zero_point;  // [-255, 255]
    if (pr[s] >= zero_code) return 0;                       // exactly zero weight
    const int32_t e = top_shift - pr[s];
    if (e < 15) return int32_t{1} << e;
    assert(doubled < 0);  // at most one k = 0 per row
    doubled = s;
    return int32_t{1} << 14;
  };
  for (int64_t i = 0; i < sh.token_pairs; ++i) weights[i] = pair(weight(2 * i), weight(2 * i + 1));
  const int32_t* v_pairs = scratch<int32_t>(kVPairs, 0);
  for (int64_t d0 = 0; d0 < sh.width; d0 += 64) {
    __m512i acc[4];
    for (auto& a : acc) a = _mm512_setzero_si512();
    for (int64_t i = 0; i < sh.token_pairs; ++i) {
      if (weights[i] == 0) continue;
      const __m512i w = _mm512_set1_epi32(weights[i]);
      const int32_t* vp = v_pairs + i * sh.width + d0;
      for (int c = 0; c < 4; ++c) acc[c] = _mm512_dpwssd_epi32(acc[c], _mm512_loadu_si512(vp + c * kLanes), w);
    }
    if (doubled >= 0) {  // + (v[s] - zp) 2^14 for the token that entered at half its weight
      const int32_t* vp = v_pairs + doubled / 2 * sh.width + d0;
      for (int c = 0; c < 4; ++c) {
        const __m512i pairs = _mm512_loadu_si512(vp + c * kLanes);
        const __m512i v = doubled % 2 == 0 ? _mm512_srai_epi32(_mm512_slli_epi32(pairs, 16), 16) : _mm512_srai_epi32(pairs, 16);
        acc[c] = _mm512_add_epi32(acc[c], _mm512_slli_epi32(v, 14));
      }
    }
    for (int c = 0; c < 4; ++c) {
      const int64_t d = d0 + c * kLanes;
      if (d >= sh.head_dim) break;
      store_codes_u8(out_row + d, requantize_lanes(acc[c], rq), lane_mask(sh.head_dim - d));
    }
  }
}

}  // namespace

void attention_logits_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits) {
  const Shape sh(p);
  load_qk(p, sh, qkv, h);
  const RequantLanes rq = per_tensor_lanes(p.score_multiplier, p.logit_zero_point, p.logit_lo, p.logit_hi);
  for (int64_t t = 0; t < p.tokens; ++t) logits_row(sh, t, rq, logits + t * p.tokens);
}

void pack_v_pairs_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t width, int32_t* v_pairs) {
  const int64_t dim = p.heads * p.head_dim, ld = 3 * dim, token_pairs = (p.tokens + 1) / 2;
  std::memset(v_pairs, 0, static_cast<size_t>(token_pairs * width) * sizeof(int32_t));
  const uint8_t* v = qkv + 2 * dim + h * p.head_dim;
  const __m512i zp = _mm512_set1_epi32(p.qkv_zero_point), low16 = _mm512_set1_epi32(0xFFFF);
  for (int64_t i = 0; i < token_pairs; ++i) {
    const int64_t s = 2 * i;
    for (int64_t d = 0; d < p.head_dim; d += kLanes) {
      const __mmask16 m = lane_mask(p.head_dim - d);
      const __m512i lo = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, v + s * ld + d)), zp);
      __m512i hi = _mm512_setzero_si512();
      if (s + 1 < p.tokens) hi = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, v + (s + 1) * ld + d)), zp);
      _mm512_mask_storeu_epi32(v_pairs + i * width + d, m,
                               _mm512_or_si512(_mm512_and_si512(lo, low16), _mm512_slli_epi32(hi, 16)));
    }
  }
}

void attention_context_avx512(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h,
                              uint8_t* out) {
  const Shape sh(p);
  pack_v_pairs_avx512(p, qkv, h, sh.width, scratch<int32_t>(kVPairs, sh.token_pairs * sh.width));
  const RequantLanes rq = per_tensor_lanes(p.context_multiplier, p.out_zero_point, p.lo, p.hi);
  for (int64_t t = 0; t < p.tokens; ++t) context_row(p, sh, probs + t * p.tokens, rq, out + t * sh.dim + h * p.head_dim);
}

void attention_head_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, AttentionScratch& scratch,
                           uint8_t* out) {
  if (attention_rows_avx512_supports(p)) return attention_rows_avx512(p, qkv, h, 0, p.tokens, out);
  attention_head_ref(p, qkv, h, scratch, out);
}

}  // namespace fqvit::kernels
