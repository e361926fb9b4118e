// One attention head in integers: q k^T requantized to the logit codes, the integer softmax (Log-Int-Softmax or
// uniform 8-bit), and attn x V exact in integers (include/fqvit/kernels/int_ops.h states each bound).
#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <vector>

#include "fqvit/kernels/int_ops.h"

namespace fqvit {

int32_t int_exp(int32_t x, const IntExpParams& p) {
  const int32_t floor_x = p.n * p.x0;  // >= -2^31: the lowering keeps n |x0| small
  if (x < floor_x) x = floor_x;
  const int32_t q = x / p.x0;  // x <= 0, x0 < 0: the quotient is >= 0 and truncation is floor
  const int32_t r = x - q * p.x0;  // (x0, 0]
  const int32_t z = r * (r + p.b) + p.c;  // (0, c]
  return z << (p.n - q);               // <= c 2^n < 2^31 (the lowering's choice of n); 0 <= n - q
}

void softmax_row_ref(const AttentionParams& p, const uint8_t* logits, int32_t* exp, uint8_t* probs) {
  const int64_t t_count = p.tokens;
  int32_t row_max = 0;
  for (int64_t s = 0; s < t_count; ++s) row_max = logits[s] > row_max ? logits[s] : row_max;
  for (int64_t s = 0; s < t_count; ++s) exp[s] = p.exp_table[static_cast<std::size_t>(row_max - logits[s])];
  softmax_from_exp_ref(p, exp, probs);
}

void softmax_from_exp_ref(const AttentionParams& p, const int32_t* exp, uint8_t* probs) {
  const int64_t t_count = p.tokens;
  int64_t sum = 0;  // < T * 2^31
  for (int64_t s = 0; s < t_count; ++s) sum += exp[s];
  if (p.softmax == SoftmaxKind::kLog2) {
    // k = log_round(v), v = round(sum / e) (half up): k >= j exactly when v >= T_j, T_1 = 2, T_j = 3 2^(j-2)
    // (v >= 1.5 2^(j-1)), and v >= T exactly when 2 sum >= (2T - 1) e. So k = min(#{j : 2 sum >= (2 T_j - 1) e},
    // 2^b) without a division; e = 0 passes every test and lands on the zero code 2^b. (2 T_j - 1) e < 2^47.
    const int32_t zero_code = int32_t{1} << p.log2_bits;
    const int64_t twice_sum = 2 * sum;
    // passes(j): k >= j; (2 T_j - 1) = 3 for j = 1, 3 2^(j-1) - 1 after.
    auto passes = [&](int32_t j, int64_t e) { return twice_sum >= (j == 1 ? 3 : (int64_t{3} << (j - 1)) - 1) * e; };
    const auto sum_bits = static_cast<int32_t>(std::bit_width(static_cast<uint64_t>(sum)));
    for (int64_t s = 0; s < t_count; ++s) {
      const int64_t e = exp[s];
      if (e <= 0) {
        probs[s] = static_cast<uint8_t>(zero_code);
        continue;
      }
      // Start from the bit-length estimate of log2(sum / e) (within one of k), then settle with the exact test.
      int32_t k = sum_bits - static_cast<int32_t>(std::bit_width(static_cast<uint64_t>(e)));
      k = k < 0 ? 0 : (k > zero_code ? zero_code : k);
      while (k < zero_code && passes(k + 1, e)) ++k;
      while (k > 0 && !passes(k, e)) --k;
      probs[s] = static_cast<uint8_t>(k);
    }
    return;
  }
  // Uniform: p / s_prob = exp * (2^16 / s_prob) / (2^16 sum); exp * reciprocal < 2^31 * 2^31.
  const int64_t den = sum << 16;
  for (int64_t s = 0; s < t_count; ++s) {
    const int64_t code = (int64_t{exp[s]} * p.prob_reciprocal_q16 + den / 2) / den + p.prob_zero_point;
    probs[s] = static_cast<uint8_t>(code < p.prob_lo ? p.prob_lo : (code > p.prob_hi ? p.prob_hi : code));
  }
}

void attention_logits_ref(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits) {
  const int64_t t_count = p.tokens, dh = p.head_dim, dim = p.heads * p.head_dim, ld = 3 * dim;
  const int32_t zp = p.qkv_zero_point;
  const uint8_t* q = qkv + h * dh;
  const uint8_t* k = qkv + dim + h * dh;
  for (int64_t t = 0; t < t_count; ++t) {
    for (int64_t s = 0; s < t_count; ++s) {
      int32_t acc = 0;  // |acc| <= head_dim * 255^2
      for (int64_t d = 0; d < dh; ++d) acc += (int32_t{q[t * ld + d]} - zp) * (int32_t{k[s * ld + d]} - zp);
      logits[t * t_count + s] =
          static_cast<uint8_t>(requantize(acc, p.score_multiplier, p.logit_zero_point, p.logit_lo, p.logit_hi));
    }
  }
}

void attention_context_ref(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h,
                           uint8_t* out) {
  const int64_t t_count = p.tokens, dh = p.head_dim, dim = p.heads * p.head_dim, ld = 3 * dim;
  const int32_t zp = p.qkv_zero_point;
  const uint8_t* v = qkv + 2 * dim + h * dh;
  const int32_t zero_code = int32_t{1} << p.log2_bits;
  const int32_t top_shift = zero_code - 1;  // weights 2^-k on the scale 2^-(2^b - 1)
  std::vector<int32_t> acc(static_cast<std::size_t>(dh));
  for (int64_t t = 0; t < t_count; ++t) {
    const uint8_t* pr = probs + t * t_count;
    std::fill(acc.begin(), acc.end(), 0);
    // Token-major: each V row is read once, contiguously, per output row.
    for (int64_t s = 0; s < t_count; ++s) {
      const uint8_t* vs = v + s * ld;
      int32_t weight;  // on the scale 2^-(2^b - 1) (log2) or the probability code's
      if (p.softmax == SoftmaxKind::kLog2) {
        if (pr[s] >= zero_code) continue;  // exactly zero weight
        weight = int32_t{1} << (top_shift - pr[s]);
      } else {
        weight = int32_t{pr[s]} - p.prob_zero_point;
      }
      for (int64_t d = 0; d < dh; ++d) acc[static_cast<std::size_t>(d)] += (int32_t{vs[d]} - zp) * weight;
    }
    for (int64_t d = 0; d < dh; ++d) {
      out[t * dim + h * dh + d] = static_cast<uint8_t>(
          requantize(acc[static_cast<std::size_t>(d)], p.context_multiplier, p.out_zero_point, p.lo, p.hi));
    }
  }
}

void attention_head_ref(const AttentionParams& p, const uint8_t* qkv, int64_t h, AttentionScratch& scratch,
                        uint8_t* out) {
  const int64_t t_count = p.tokens;
  scratch.logits.resize(static_cast<std::size_t>(t_count * t_count));
  scratch.probs.resize(static_cast<std::size_t>(t_count * t_count));
  scratch.exp.resize(static_cast<std::size_t>(t_count));
  attention_logits_ref(p, qkv, h, scratch.logits.data());
  for (int64_t t = 0; t < t_count; ++t) {
    softmax_row_ref(p, scratch.logits.data() + t * t_count, scratch.exp.data(), scratch.probs.data() + t * t_count);
  }
  attention_context_ref(p, scratch.probs.data(), qkv, h, out);
}

}  // namespace fqvit

namespace fqvit {

void attention_head_rows_ref(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t t_begin, int64_t t_end,
                             AttentionScratch& scratch, uint8_t* out) {
  const int64_t t_count = p.tokens, dh = p.head_dim, dim = p.heads * p.head_dim, ld = 3 * dim;
  const int32_t zp = p.qkv_zero_point;
  const int32_t zero_code = int32_t{1} << p.log2_bits, top_shift = zero_code - 1;
  const uint8_t* q = qkv + h * dh;
  const uint8_t* k = qkv + dim + h * dh;
  const uint8_t* v = qkv + 2 * dim + h * dh;
  scratch.logits.resize(static_cast<std::size_t>(t_count));
  scratch.probs.resize(static_cast<std::size_t>(t_count));
  scratch.exp.resize(static_cast<std::size_t>(t_count));
  std::vector<int32_t> acc(static_cast<std::size_t>(dh));
  for (int64_t t = t_begin; t < t_end; ++t) {
    // attention_logits_ref, softmax_row_ref and attention_context_ref on row t alone.
    for (int64_t s = 0; s < t_count; ++s) {
      int32_t dot = 0;
      for (int64_t d = 0; d < dh; ++d) dot += (int32_t{q[t * ld + d]} - zp) * (int32_t{k[s * ld + d]} - zp);
      scratch.logits[static_cast<std::size_t>(s)] =
          static_cast<uint8_t>(requantize(dot, p.score_multiplier, p.logit_zero_point, p.logit_lo, p.logit_hi));
    }
    softmax_row_ref(p, scratch.logits.data(), scratch.exp.data(), scratch.probs.data());
    std::fill(acc.begin(), acc.end(), 0);
    for (int64_t s = 0; s < t_count; ++s) {
      const int32_t code = scratch.probs[static_cast<std::size_t>(s)];
      int32_t weight;
      if (p.softmax == SoftmaxKind::kLog2) {
        if (code >= zero_code) continue;
        weight = int32_t{1} << (top_shift - code);
      } else {
        weight = code - p.prob_zero_point;
      }
      for (int64_t d = 0; d < dh; ++d) acc[static_cast<std::size_t>(d)] += (int32_t{v[s * ld + d]} - zp) * weight;
    }
    for (int64_t d = 0; d < dh; ++d) {
      out[t * dim + h * dh + d] = static_cast<uint8_t>(
          requantize(acc[static_cast<std::size_t>(d)], p.context_multiplier, p.out_zero_point, p.lo, p.hi));
    }
  }
}

}  // namespace fqvit
