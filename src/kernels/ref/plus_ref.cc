// Reference kernels of the fqvit_plus extensions (include/fqvit/kernels/int_ops_plus.h states each arithmetic and
// bound): per-channel zero points, 16-bit stream codes, per-channel output quantizers.
#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <vector>

#include "fqvit/kernels/int_ops_plus.h"

namespace fqvit {
namespace {

__extension__ typedef __int128 int128;  // C S2 - S1^2 and the fixed-point A need more than 64 bits
__extension__ typedef unsigned __int128 uint128;

constexpr int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

int bit_length(uint128 v) {
  const auto hi = static_cast<uint64_t>(v >> 64);
  return static_cast<int>(hi != 0 ? 64 + std::bit_width(hi) : std::bit_width(static_cast<uint64_t>(v)));
}

constexpr int kAFracBits = 48;  // |A| carried as floor(|A| 2^48)
constexpr int kMultiplierBits = 16;
constexpr int kMaxN = 40;
constexpr int128 kMLimit = int128{1} << 31;  // M is < 2^16 unless |A| >= 2^15 (N = 0): kept below 2^31 there
constexpr int128 kBLimit = int128{1} << 60;  // |B| beyond this puts the output far outside any code range

template <typename Out>
void requantize_channels_any(const ChannelRequantParams& p, const int32_t* acc, int64_t rows, int64_t n, Out* out) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const auto jj = static_cast<std::size_t>(j);
      const int32_t offset = p.rounding_offset.empty() ? 0 : p.rounding_offset[jj];
      out[r * n + j] =
          static_cast<Out>(requantize(acc[r * n + j], p.multiplier[jj], offset, p.zero_point[jj], p.lo, p.hi));
    }
  }
}

}  // namespace

void requantize_channels_ref(const ChannelRequantParams& p, const int32_t* acc, int64_t rows, int64_t n,
                             uint8_t* out) {
  assert(p.hi <= 255);
  requantize_channels_any(p, acc, rows, n, out);
}

void requantize_channels_ref(const ChannelRequantParams& p, const int32_t* acc, int64_t rows, int64_t n,
                             uint16_t* out) {
  requantize_channels_any(p, acc, rows, n, out);
}

template <typename A, typename B, typename Out>
void residual_add_channel_ref(const ResidualAddChannelParams& p, const A* a, const B* b, int64_t rows, Out* out) {
  const int64_t c_count = p.channels;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < c_count; ++c) {
      const auto cc = static_cast<std::size_t>(c);
      const FixedMultiplier ma = p.a_multiplier[cc], mb = p.b_multiplier[cc];
      assert(ma.exponent == mb.exponent && ma.valid());
      const int32_t s = ma.right_shift();
      // |code - zp| < 2^16, |mantissa| < 2^31: each product < 2^47, the sum < 2^48.
      const int64_t sum = static_cast<int64_t>(int32_t{a[r * c_count + c]} - p.a_zero_point[cc]) * ma.mantissa_q31 +
                          static_cast<int64_t>(int32_t{b[r * c_count + c]} - p.b_zero_point[cc]) * mb.mantissa_q31;
      const int64_t v = ((sum + (int64_t{1} << (s - 1))) >> s) + p.out_zero_point[cc];
      out[r * c_count + c] = static_cast<Out>(clamp64(v, p.lo, p.hi));
    }
  }
}

template <typename Out>
void embed_tokens_channel_ref(const EmbedChannelParams& p, const uint8_t* patch_codes, Out* tokens) {
  const int64_t d = p.dim, t_count = p.prefix + p.patches;
  std::vector<uint8_t> embed(static_cast<std::size_t>(t_count * d));
  std::memcpy(embed.data(), p.prefix_codes.data(), static_cast<std::size_t>(p.prefix * d));
  rescale_codes_ref(p.patch_to_embed, patch_codes, p.patches * d, embed.data() + p.prefix * d);
  residual_add_channel_ref(p.add_pos, embed.data(), p.pos_codes.data(), t_count, tokens);
}

template <typename In>
void layer_norm_wide_ref(const LayerNormWideParams& p, const In* q, int64_t rows, uint8_t* out) {
  const int64_t c_count = p.channels;
  assert(c_count > 0 && c_count <= kLayerNormWideMaxChannels);
  std::vector<int64_t> x(static_cast<std::size_t>(c_count));
  for (int64_t r = 0; r < rows; ++r) {
    const In* qr = q + r * c_count;
    uint8_t* yr = out + r * c_count;
    int64_t s1 = 0;  // |s1| < 2^37
    uint64_t s2 = 0;  // < 2^63
    for (int64_t c = 0; c < c_count; ++c) {
      const auto cc = static_cast<std::size_t>(c);
      const int64_t v = (int64_t{qr[c]} - p.in_zero_point[cc]) * (int64_t{1} << p.in_shift[cc]);  // |v| < 2^26
      x[cc] = v;
      s1 += v;
      s2 += static_cast<uint64_t>(v * v);
    }
    const int128 d = int128{c_count} * static_cast<int128>(s2) - int128{s1} * s1;  // >= 0, < 2^74
    if (d <= 0) {
      for (int64_t c = 0; c < c_count; ++c) yr[c] = p.zero_variance_code[static_cast<std::size_t>(c)];
      continue;
    }
    // sqrt(D) = (root + f) 2^-k: D scaled by 4^k into [2^60, 2^62) (k < 0 shifts down), root in [2^30, 2^31).
    const int w = bit_length(static_cast<uint128>(d));
    const int k = w <= 62 ? (62 - w) / 2 : -((w - 61) / 2);
    const uint128 scaled = k >= 0 ? static_cast<uint128>(d) << (2 * k) : static_cast<uint128>(d) >> (-2 * k);
    const auto root = static_cast<int64_t>(isqrt_u64(static_cast<uint64_t>(scaled)));
    const int64_t inv = (int64_t{1} << 61) / root;  // 1 / sqrt(D) = inv 2^(k - 61), inv in (2^30, 2^31]
    for (int64_t c = 0; c < c_count; ++c) {
      const auto cc = static_cast<std::size_t>(c);
      const FixedMultiplier g = p.gamma[cc];
      // |A| 2^48 = C |mantissa| inv 2^(exponent + k - 44); C |mantissa| inv < 2^11 2^31 2^31.
      const int e1 = g.exponent + k - 44;
      const int128 mant = g.mantissa_q31 < 0 ? -int128{g.mantissa_q31} : int128{g.mantissa_q31};
      const int128 prod = int128{c_count} * mant * inv;
      assert(e1 <= 0 || bit_length(static_cast<uint128>(prod)) + e1 < 126);
      const int128 a_fp = e1 >= 0 ? prod << e1 : prod >> (-e1);
      if (a_fp == 0) {
        yr[c] = p.zero_variance_code[cc];
        continue;
      }
      const int log2_a = bit_length(static_cast<uint128>(a_fp)) - 1 - kAFracBits;  // floor(log2 |A|)
      const int n = static_cast<int>(clamp64(kMultiplierBits - 1 - log2_a, 0, kMaxN));
      int128 m = a_fp >> (kAFracBits - n);
      m = m > kMLimit ? kMLimit : m;
      const int128 sign = g.mantissa_q31 < 0 ? -1 : 1;
      // The mean term gamma S1 / sqrt(D) in units of 2^-48: sign |mantissa| S1 inv 2^e1, |product| < 2^31 2^37 2^31.
      const int128 t_prod = sign * mant * s1 * inv;
      const int128 t_fp = e1 >= 0 ? t_prod << e1 : t_prod >> (-e1);
      const int128 v = (int128{p.beta_q32[cc]} << (kAFracBits - kLayerNormBetaFracBits)) - t_fp;
      int128 b = ((v << n) + (int128{1} << (kAFracBits - 1))) >> kAFracBits;  // round half up (the double's
      b = b > kBLimit ? kBLimit : (b < -kBLimit ? -kBLimit : b);               // nearbyint, off on exact ties)
      // |M x| < 2^31 2^26, |B| <= 2^60: the int64 sum cannot overflow.
      const int64_t t = static_cast<int64_t>(sign * m) * x[cc] + static_cast<int64_t>(b);
      const int64_t y = n == 0 ? t : (t + (int64_t{1} << (n - 1))) >> n;  // half up, as the emulation
      yr[c] = static_cast<uint8_t>(clamp64(y + p.out_zero_point[cc], p.lo, p.hi));
    }
  }
}

namespace {

// The definition: v(h) = code_at_argmin + #{fall >= h} + #{rise <= h} (both tables ascending).
int32_t gelu_value_at(const GeluParams& g, int32_t h) {
  const auto fall = g.fall.end() - std::lower_bound(g.fall.begin(), g.fall.end(), h);
  const auto rise = std::upper_bound(g.rise.begin(), g.rise.end(), h) - g.rise.begin();
  return g.code_at_argmin + static_cast<int32_t>(fall + rise);
}

constexpr int64_t kMaxBuckets = int64_t{1} << 16;

GeluStepBuckets step_buckets(const GeluParams& g) {
  GeluStepBuckets t;
  std::vector<int64_t> steps;  // leaving fall[j] (h = fall[j] + 1) takes one away, reaching rise[j] adds one
  for (int32_t f : g.fall) steps.push_back(int64_t{f} + 1);
  for (int32_t r : g.rise) steps.push_back(r);
  std::sort(steps.begin(), steps.end());
  if (steps.empty()) return t;
  int64_t gap = int64_t{1} << 40;
  for (size_t i = 1; i < steps.size(); ++i) gap = std::min(gap, steps[i] - steps[i - 1]);
  if (gap < 1) return t;  // two steps at one h: keep the search
  int shift = 0;
  while ((int64_t{2} << shift) <= gap) ++shift;  // 2^shift <= gap: at most one step per bucket
  const int64_t origin = steps.front() - 1, span = steps.back() - origin + 1;
  const int64_t count = ((span - 1) >> shift) + 1;
  if (count > kMaxBuckets) return t;
  t.origin = static_cast<int32_t>(origin);
  t.shift = shift;
  t.value.resize(static_cast<size_t>(count));
  t.step.assign(static_cast<size_t>(count), INT32_MAX);
  t.delta.assign(static_cast<size_t>(count), 0);
  for (int64_t b = 0; b < count; ++b) {
    const auto start = static_cast<int32_t>(origin + (b << shift));
    t.value[static_cast<size_t>(b)] = static_cast<int16_t>(gelu_value_at(g, start));
  }
  for (int64_t s : steps) {
    const auto b = static_cast<size_t>((s - origin) >> shift);
    if (s == origin + (static_cast<int64_t>(b) << shift)) continue;  // a step at the bucket's start is in its value
    t.step[b] = static_cast<int32_t>(s);
    t.delta[b] = static_cast<int8_t>(gelu_value_at(g, static_cast<int32_t>(s)) - t.value[b]);
  }
  return t;
}

}  // namespace

void build_gelu_channel_buckets(GeluChannelParams& p) {
  p.buckets.clear();
  for (const GeluParams& g : p.groups) p.buckets.push_back(step_buckets(g));
  // The packed per-channel form (int_ops_plus.h), or none.
  p.lane_packed.clear(), p.lane_origin.clear(), p.lane_last.clear(), p.lane_shift.clear(), p.lane_base.clear();
  constexpr int32_t kHLimit = int32_t{1} << 30;
  constexpr int kMaxLaneShift = 19;
  std::vector<uint32_t> packed;
  std::vector<int32_t> base, last;
  for (const GeluStepBuckets& t : p.buckets) {
    if (t.value.empty() || t.shift > kMaxLaneShift) return;
    base.push_back(static_cast<int32_t>(packed.size()));
    // h never exceeds 2^30, so the table's last h is taken there (never below the origin), as gelu_channel_ref.
    const int64_t end = t.origin + (static_cast<int64_t>(t.value.size()) << t.shift) - 1;
    last.push_back(static_cast<int32_t>(std::max<int64_t>(std::min<int64_t>(end, kHLimit), t.origin)));
    for (std::size_t b = 0; b < t.value.size(); ++b) {
      const int32_t v = t.value[b];
      if (v < -512 || v > 511) return;
      const int64_t start = t.origin + (static_cast<int64_t>(b) << t.shift);
      const bool has_step = t.step[b] != INT32_MAX;
      const auto offset = static_cast<uint32_t>(has_step ? t.step[b] - start : int64_t{1} << t.shift);
      const int32_t step_delta = has_step ? t.delta[b] : 0;
      if (step_delta < -1 || step_delta > 1) return;
      const auto delta = static_cast<uint32_t>(step_delta + 1);
      packed.push_back(static_cast<uint32_t>(v + 512) | delta << 10 | offset << 12);
    }
  }
  for (int64_t c = 0; c < p.channels; ++c) {
    const std::size_t g = p.group[static_cast<std::size_t>(c)];
    p.lane_origin.push_back(p.buckets[g].origin);
    p.lane_last.push_back(last[g]);
    p.lane_shift.push_back(p.buckets[g].shift);
    p.lane_base.push_back(base[g]);
  }
  p.lane_packed = std::move(packed);
}

void gelu_channel_ref(const GeluChannelParams& p, const int32_t* acc, int64_t rows, uint8_t* out) {
  constexpr int32_t kHLimit = int32_t{1} << 30;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < p.channels; ++c) {
      const auto cc = static_cast<std::size_t>(c);
      const uint8_t gi = p.group[cc];
      const int32_t offset = p.to_h_rounding_offset.empty() ? 0 : p.to_h_rounding_offset[cc];
      const int32_t h = requantize(acc[r * p.channels + c], p.to_h[cc], offset, 0, -kHLimit, kHLimit);
      int64_t v;
      const GeluStepBuckets* t = gi < p.buckets.size() ? &p.buckets[gi] : nullptr;
      if (t == nullptr || t->value.empty()) {
        v = gelu_value_at(p.groups[gi], h);
      } else {
        // Outside the table the value is that of the nearest end: no step lies beyond.
        const int64_t last = t->origin + (static_cast<int64_t>(t->value.size()) << t->shift) - 1;
        const int64_t hc = clamp64(h, t->origin, last);
        const auto b = static_cast<std::size_t>((hc - t->origin) >> t->shift);
        v = t->value[b] + (hc >= t->step[b] ? t->delta[b] : 0);
      }
      out[r * p.channels + c] = static_cast<uint8_t>(clamp64(p.zero_point[cc] + v, p.lo, p.hi));
    }
  }
}

void attention_context_channel_ref(const AttentionParams& p, const ChannelRequantParams& out_q, const uint8_t* probs,
                                   const uint8_t* qkv, int64_t h, uint8_t* out) {
  const int64_t t_count = p.tokens, dh = p.head_dim, dim = p.heads * p.head_dim, ld = 3 * dim;
  const int32_t zp = p.qkv_zero_point;
  const uint8_t* v = qkv + 2 * dim + h * dh;
  const int32_t zero_code = int32_t{1} << p.log2_bits;
  const int32_t top_shift = zero_code - 1;
  std::vector<int32_t> acc(static_cast<std::size_t>(dh));
  for (int64_t t = 0; t < t_count; ++t) {
    const uint8_t* pr = probs + t * t_count;
    std::fill(acc.begin(), acc.end(), 0);
    for (int64_t s = 0; s < t_count; ++s) {
      const uint8_t* vs = v + s * ld;
      int32_t weight;
      if (p.softmax == SoftmaxKind::kLog2) {
        if (pr[s] >= zero_code) continue;
        weight = int32_t{1} << (top_shift - pr[s]);
      } else {
        weight = int32_t{pr[s]} - p.prob_zero_point;
      }
      for (int64_t d = 0; d < dh; ++d) acc[static_cast<std::size_t>(d)] += (int32_t{vs[d]} - zp) * weight;
    }
    for (int64_t d = 0; d < dh; ++d) {
      const auto j = static_cast<std::size_t>(h * dh + d);
      out[t * dim + h * dh + d] = static_cast<uint8_t>(
          requantize(acc[static_cast<std::size_t>(d)], out_q.multiplier[j], out_q.zero_point[j], out_q.lo, out_q.hi));
    }
  }
}

template void residual_add_channel_ref(const ResidualAddChannelParams&, const uint8_t*, const uint8_t*, int64_t,
                                       uint8_t*);
template void residual_add_channel_ref(const ResidualAddChannelParams&, const uint16_t*, const uint8_t*, int64_t,
                                       uint16_t*);
template void residual_add_channel_ref(const ResidualAddChannelParams&, const uint8_t*, const uint8_t*, int64_t,
                                       uint16_t*);
template void embed_tokens_channel_ref(const EmbedChannelParams&, const uint8_t*, uint8_t*);
template void embed_tokens_channel_ref(const EmbedChannelParams&, const uint8_t*, uint16_t*);
template void layer_norm_wide_ref(const LayerNormWideParams&, const uint8_t*, int64_t, uint8_t*);
template void layer_norm_wide_ref(const LayerNormWideParams&, const uint16_t*, int64_t, uint8_t*);

}  // namespace fqvit
