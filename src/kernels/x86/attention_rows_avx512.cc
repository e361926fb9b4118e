// Query rows [t_begin, t_end) of one attention head in AVX-512 VNNI, four rows at a time, bit-exact with
// attention_ref.cc (the rows of a head are independent, so any split gives the reference's bits):
//   q k^T: vpdpbusd on the raw q codes (u8, 4 dims per dword, broadcast) times k - 128 (s8, a dword transpose of K:
//          16 keys per zmm). The zero points come back as exact int32 terms set into the accumulators first:
//            sum_d (q - zp)(k - zp) = sum_d q (k - 128) + [(128 - zp) sum_d q] + [D zp^2 - zp sum_d k]
//          (per query row, per key). Each term and every partial sum is below D 2^18 < 2^31 for D <= 4096.
//          A 4 x 64 tile (4 rows, 64 keys: 16 accumulators) per group of 4 dims: 4 loads, 4 broadcasts, 16 dot
//          products; requantized in registers (requant_avx512.h).
//   softmax: softmax_avx512vbmi.cc per row (gather-free; softmax_avx512.cc's gather form without VBMI), into the
//          row's probability codes.
//   attn x V: vpdpwssd over pairs of tokens, V as int16 pairs (v[2i] - zp, v[2i + 1] - zp) per channel, the weights
//          as int16 pairs built 32 tokens at a time: 2^(2^b - 1 - k) by vpsllvw (log2; 0 for the zero code) or
//          p - zp_p (uniform). A log2 weight of 2^15 (k = 0 at 4 bits) is 0x8000 = -2^15 as int16: its token then
//          adds -2^15 (v - zp) instead of 2^15 (v - zp), and 2^16 (v - zp) is added back once (k = 0 needs
//          e > 2 sum / 3, so a row has at most one such token). All sums are modulo 2^32 (vpdpwssd and vpaddd wrap)
//          and the exact result is within the reference's int32 bound, so it comes out exact.
// No std templates here beyond vnni_asm.h's compile-time index sequence (thread_scratch.h says why): buffers come
// from thread_scratch.
#include <cassert>
#include <cstddef>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/thread_scratch.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/plus_context_avx512.h"
#include "kernels/x86/plus_x86.h"
#include "kernels/x86/requant_avx512.h"
#include "kernels/x86/vnni_asm.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kLanes = 16;
constexpr int kRows = 4;  // query rows per block
enum Slot { kKWords, kKeyTerm, kVPairs, kQWords, kLogits, kProbs, kExp, kWeights };

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

template <typename T>
T* scratch(Slot slot, int64_t count) {
  return static_cast<T*>(thread_scratch(slot, count * static_cast<int64_t>(sizeof(T))));
}

struct Layout {
  int64_t tokens, head_dim, dim, ld, groups, keys, token_pairs, width, prob_ld, weight_ld;
  explicit Layout(const AttentionParams& p)
      : tokens(p.tokens), head_dim(p.head_dim), dim(p.heads * p.head_dim), ld(3 * dim), groups((p.head_dim + 3) / 4),
        keys(round_up(p.tokens, kLanes)), token_pairs((p.tokens + 1) / 2), width(round_up(p.head_dim, 4 * kLanes)),
        prob_ld(round_up(p.tokens, 64)), weight_ld(prob_ld / 2) {}
};

// 4 bytes of a row from d (zero past the row's n bytes), each XORed with `flip`.
uint32_t word_at(const uint8_t* row, int64_t d, int64_t n, uint32_t flip) {
  uint32_t w = 0;
  if (d + 4 <= n) {
    std::memcpy(&w, row + d, 4);
    return w ^ flip;
  }
  for (int64_t t = 0; d + t < n; ++t) w |= (uint32_t{row[d + t]} ^ (flip & 0xFFu)) << (8 * t);
  return w;
}

// k_words [groups][keys]: dims 4g..4g+3 of each key minus 128 (s8), keys contiguous, zero past T and past
// head_dim; key_term [keys]: D zp^2 - zp sum_d k (0 past T). Per key, 64 dims at a time: one masked load, the sum
// by vpsadbw, the XOR, then 16 dword stores down the columns.
void pack_k(const AttentionParams& p, const Layout& l, const uint8_t* qkv, int64_t h) {
  uint32_t* k_words = scratch<uint32_t>(kKWords, l.groups * l.keys);
  int32_t* key_term = scratch<int32_t>(kKeyTerm, l.keys);
  const int32_t zp = p.qkv_zero_point;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  alignas(64) uint32_t words[16];
  for (int64_t s = 0; s < l.keys; ++s) {
    if (s >= l.tokens) {
      for (int64_t g = 0; g < l.groups; ++g) k_words[g * l.keys + s] = 0;
      key_term[s] = 0;
      continue;
    }
    const uint8_t* k = qkv + s * l.ld + l.dim + h * l.head_dim;
    __m512i sum = _mm512_setzero_si512();
    for (int64_t d = 0; d < l.head_dim; d += 64) {
      const int64_t left = l.head_dim - d;
      const __mmask64 m = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
      const __m512i bytes = _mm512_maskz_loadu_epi8(m, k + d);
      sum = _mm512_add_epi64(sum, _mm512_sad_epu8(bytes, _mm512_setzero_si512()));
      _mm512_store_si512(words, _mm512_maskz_xor_epi32(~__mmask16{0}, bytes, _mm512_maskz_mov_epi8(m, flip)));
      const int64_t g0 = d / 4, count = l.groups - g0 < 16 ? l.groups - g0 : 16;
      for (int64_t g = 0; g < count; ++g) k_words[(g0 + g) * l.keys + s] = words[g];
    }
    key_term[s] = static_cast<int32_t>(l.head_dim) * zp * zp - zp * static_cast<int32_t>(_mm512_reduce_add_epi64(sum));
  }
}

// Logit codes of R query rows against keys [s0, s0 + 16 NV): acc starts at the row and key terms. One flattened
// function with local accumulators, compile-time indices and asm dot products (vnni_asm.h: else GCC copies them).
template <int R, int NV>
__attribute__((flatten)) void logits_tile(const Layout& l, const uint32_t* q_words, const int32_t* row_term,
                                          int64_t s0, const RequantLanes& rq, uint8_t* logits) {
  const uint32_t* k_words = scratch<uint32_t>(kKWords, 0) + s0;
  const int32_t* key_term = scratch<int32_t>(kKeyTerm, 0) + s0;
  __m512i acc[R][NV];
  unrolled<NV>([&](auto v) {
    const __m512i kt = _mm512_loadu_si512(key_term + v * kLanes);
    unrolled<R>([&](auto r) { acc[r][v] = _mm512_add_epi32(kt, _mm512_set1_epi32(row_term[r])); });
  });
  for (int64_t g = 0; g < l.groups; ++g) {
    __m512i k[NV];
    unrolled<NV>([&](auto v) { k[v] = _mm512_loadu_si512(k_words + g * l.keys + v * kLanes); });
    unrolled<R>([&](auto r) {
      const __m512i q = _mm512_set1_epi32(static_cast<int32_t>(q_words[r * l.groups + g]));
      unrolled<NV>([&](auto v) { acc[r][v] = dpbusd(acc[r][v], q, k[v]); });
    });
  }
  unrolled<R>([&](auto r) {
    unrolled<NV>([&](auto v) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(logits + r * l.keys + s0 + v * kLanes),
                       _mm512_cvtepi32_epi8(requantize_lanes(acc[r][v], rq)));
    });
  });
}

template <int R>
void logits_rows(const Layout& l, const uint32_t* q_words, const int32_t* row_term, const RequantLanes& rq,
                 uint8_t* logits) {
  int64_t s = 0;
  for (; s + 4 * kLanes <= l.keys; s += 4 * kLanes) logits_tile<R, 4>(l, q_words, row_term, s, rq, logits);
  switch ((l.keys - s) / kLanes) {
    case 3: logits_tile<R, 3>(l, q_words, row_term, s, rq, logits); break;
    case 2: logits_tile<R, 2>(l, q_words, row_term, s, rq, logits); break;
    case 1: logits_tile<R, 1>(l, q_words, row_term, s, rq, logits); break;
    default: break;
  }
}

// Int16 weight pairs of one row of probability codes (tokens [0, T); zero after, up to the weight row's end).
// Returns the token whose log2 weight 2^15 went in as -2^15, or -1.
int64_t weight_row(const AttentionParams& p, const Layout& l, const uint8_t* probs, int16_t* w) {
  const bool log2 = p.softmax == SoftmaxKind::kLog2;
  const int32_t zero_code = int32_t{1} << p.log2_bits, top_shift = zero_code - 1;
  const __m512i ones = _mm512_set1_epi16(1), top = _mm512_set1_epi16(static_cast<int16_t>(top_shift));
  const __m512i zero_code_v = _mm512_set1_epi16(static_cast<int16_t>(zero_code));
  const __m512i prob_zp = _mm512_set1_epi16(static_cast<int16_t>(p.prob_zero_point));
  int64_t wrapped = -1;
  for (int64_t s = 0; s < l.prob_ld; s += 32) {
    const int64_t left = l.tokens - s;
    const __mmask32 m = left >= 32 ? 0xFFFFFFFFu : (left <= 0 ? 0u : (1u << left) - 1);
    const __m512i codes = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, probs + s));
    __m512i weights;
    if (log2) {
      const __mmask32 live = _mm512_mask_cmplt_epu16_mask(m, codes, zero_code_v);
      weights = _mm512_maskz_sllv_epi16(live, ones, _mm512_sub_epi16(top, codes));
      if (top_shift == 15) {
        const __mmask32 k0 = _mm512_mask_cmpeq_epi16_mask(live, codes, _mm512_setzero_si512());
        if (k0 != 0) {
          assert(wrapped < 0 && (k0 & (k0 - 1)) == 0);  // at most one k = 0 per row
          wrapped = s + __builtin_ctz(k0);
        }
      }
    } else {
      weights = _mm512_maskz_sub_epi16(m, codes, prob_zp);
    }
    _mm512_storeu_si512(w + s, weights);
  }
  return wrapped;
}

// Context rows of R query rows from their weight pairs, channels [d0, d0 + 64), requantized into out rows (codegen
// as logits_tile).
template <int R>
__attribute__((flatten)) void context_tile(const Layout& l, const int32_t* weights, const int64_t* wrapped, int64_t d0,
                                           const ContextRequant& rq, uint8_t* out) {
  const int32_t* v_pairs = scratch<int32_t>(kVPairs, 0) + d0;
  __m512i acc[R][4];
  unrolled<R>([&](auto r) { unrolled<4>([&](auto c) { acc[r][c] = _mm512_setzero_si512(); }); });
  for (int64_t i = 0; i < l.token_pairs; ++i) {
    __m512i v[4];
    unrolled<4>([&](auto c) { v[c] = _mm512_loadu_si512(v_pairs + i * l.width + c * kLanes); });
    unrolled<R>([&](auto r) {
      const __m512i w = _mm512_set1_epi32(weights[r * l.weight_ld + i]);
      unrolled<4>([&](auto c) { acc[r][c] = dpwssd(acc[r][c], v[c], w); });
    });
  }
  unrolled<R>([&](auto r) {
    if (wrapped[r] >= 0) {  // + 2^16 (v[s] - zp) for the token whose 2^15 went in as -2^15
      const int64_t s = wrapped[r];
      const int32_t* vp = v_pairs + s / 2 * l.width;
      unrolled<4>([&](auto c) {
        const __m512i pairs = _mm512_loadu_si512(vp + c * kLanes);
        const __m512i v =
            s % 2 == 0 ? _mm512_srai_epi32(_mm512_slli_epi32(pairs, 16), 16) : _mm512_srai_epi32(pairs, 16);
        acc[r][c] = _mm512_add_epi32(acc[r][c], _mm512_slli_epi32(v, 16));
      });
    }
    unrolled<4>([&](auto c) {
      const int64_t d = d0 + c * kLanes;
      if (d < l.head_dim) {
        store_codes_u8(out + r * l.dim + d, rq.codes(acc[r][c], d / kLanes), lane_mask(l.head_dim - d));
      }
    });
  });
}

RequantLanes per_tensor_lanes(FixedMultiplier multiplier, int32_t zero_point, int32_t lo, int32_t hi) {
  FixedMultiplier m[kLanes];
  for (auto& v : m) v = multiplier;
  RequantParams rq;
  rq.multiplier = m;
  rq.zero_point = zero_point, rq.lo = lo, rq.hi = hi;
  return load_requant_lanes(m, kLanes, rq);
}

// The softmax form of this head's rows: the gather-free one (lut) when the CPU and the parameters allow.
struct SoftmaxForm {
  SoftmaxLut lut;
  bool vbmi = false;
};

template <int R>
void row_block(const AttentionParams& p, const Layout& l, const uint8_t* qkv, int64_t h, int64_t t0,
               const SoftmaxForm& sf, const RequantLanes& logit_rq, const ContextRequant& context_rq, uint8_t* out) {
  uint32_t* q_words = scratch<uint32_t>(kQWords, kRows * l.groups);
  uint8_t* logits = scratch<uint8_t>(kLogits, kRows * l.keys);
  uint8_t* probs = scratch<uint8_t>(kProbs, kRows * l.prob_ld);
  int32_t* exp = scratch<int32_t>(kExp, kRows * l.prob_ld);
  int16_t* weights = scratch<int16_t>(kWeights, kRows * 2 * l.weight_ld);
  const int32_t zp = p.qkv_zero_point;
  int32_t row_term[kRows];
  for (int r = 0; r < R; ++r) {
    const uint8_t* q = qkv + (t0 + r) * l.ld + h * l.head_dim;
    int32_t sum = 0;
    for (int64_t d = 0; d < l.head_dim; ++d) sum += q[d];
    for (int64_t g = 0; g < l.groups; ++g) q_words[r * l.groups + g] = word_at(q, 4 * g, l.head_dim, 0);
    row_term[r] = (128 - zp) * sum;
  }
  logits_rows<R>(l, q_words, row_term, logit_rq, logits);
  int64_t wrapped[kRows];
  if (sf.vbmi) {
    softmax_weights_avx512vbmi(p, sf.lut, logits, l.keys, R, exp, weights, 2 * l.weight_ld, wrapped);
  } else {
    for (int r = 0; r < R; ++r) {
      softmax_row_avx512(p, logits + r * l.keys, exp, probs + r * l.prob_ld);
      wrapped[r] = weight_row(p, l, probs + r * l.prob_ld, weights + r * 2 * l.weight_ld);
    }
  }
  const auto* weight_pairs = reinterpret_cast<const int32_t*>(weights);
  for (int64_t d0 = 0; d0 < l.width; d0 += 4 * kLanes) {
    context_tile<R>(l, weight_pairs, wrapped, d0, context_rq, out + t0 * l.dim + h * l.head_dim);
  }
}

}  // namespace

bool attention_rows_avx512_supports(const AttentionParams& p) { return p.head_dim <= 4096; }

namespace {

void rows(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t t_begin, int64_t t_end,
          const ContextRequant& context_rq, uint8_t* out) {
  const Layout l(p);
  pack_k(p, l, qkv, h);
  pack_v_pairs_avx512(p, qkv, h, l.width, scratch<int32_t>(kVPairs, l.token_pairs * l.width));
  const RequantLanes logit_rq = per_tensor_lanes(p.score_multiplier, p.logit_zero_point, p.logit_lo, p.logit_hi);
  SoftmaxForm sf;
  if (cpu_has_avx512_vbmi()) {
    prepare_softmax_avx512vbmi(p, sf.lut);
    sf.vbmi = softmax_vbmi_supports(p, sf.lut);
  }
  int64_t t = t_begin;
  for (; t + kRows <= t_end; t += kRows) row_block<kRows>(p, l, qkv, h, t, sf, logit_rq, context_rq, out);
  switch (t_end - t) {
    case 3: row_block<3>(p, l, qkv, h, t, sf, logit_rq, context_rq, out); break;
    case 2: row_block<2>(p, l, qkv, h, t, sf, logit_rq, context_rq, out); break;
    case 1: row_block<1>(p, l, qkv, h, t, sf, logit_rq, context_rq, out); break;
    default: break;
  }
}

}  // namespace

void attention_rows_avx512(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t t_begin, int64_t t_end,
                           uint8_t* out) {
  assert(attention_rows_avx512_supports(p));
  const RequantLanes lanes = per_tensor_lanes(p.context_multiplier, p.out_zero_point, p.lo, p.hi);
  ContextRequant context_rq;
  context_rq.lanes = &lanes;
  rows(p, qkv, h, t_begin, t_end, context_rq, out);
}

// fqvit_plus (plus_x86.h): the same rows with the context requantized per output channel.
void attention_rows_channel_avx512(const AttentionParams& p, const ChannelRequantParams& context, const uint8_t* qkv,
                                   int64_t h, int64_t t_begin, int64_t t_end, uint8_t* out) {
  assert(p.head_dim <= kContextChannelMaxHeadDim);
  RequantLanes lanes[kContextChannelMaxHeadDim / kLanes];
  __m512i zero_point[kContextChannelMaxHeadDim / kLanes];
  rows(p, qkv, h, t_begin, t_end, channel_context_requant(context, p.head_dim, h, lanes, zero_point), out);
}

}  // namespace fqvit::kernels
