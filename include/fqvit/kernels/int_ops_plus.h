// Reference kernels of the fqvit_plus extensions (docs/quantization.md 11.9): per-channel zero points, PTF factors
// up to 2^10, 16-bit residual codes, per-channel output quantizers. Same conventions as int_ops.h: free functions
// over raw pointers and a params struct the lowering builds, no float inside, every requantization rounds half up
// (quant/fixed_multiplier.h). A code buffer holds uint8 codes, or uint16 where BufferSpec::code_bytes is 2 (the
// residual stream under "residual_bits" > 8); the kernels that touch the stream are templates over the code type,
// instantiated for uint8_t and uint16_t.
#pragma once

#include <cstdint>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops.h"

namespace fqvit {

// A per-channel output quantizer: out[j] = clamp(zero_point[j] + round((acc + f[j]) * multiplier[j]), lo, hi), with
// the bias's fraction f[j] of an accumulator unit carried as rounding_offset[j] (quant/fixed_multiplier.h; the
// linear's own offsets, so a per-channel linear rounds the exact real output as LinearOp does).
struct ChannelRequantParams {
  std::vector<FixedMultiplier> multiplier;  // [n]
  std::vector<int32_t> zero_point;          // [n]
  std::vector<int32_t> rounding_offset;     // [n], or empty (no bias fraction: attn x V)
  int32_t lo = 0, hi = 255;
};
// acc [rows][n] (GEMM accumulators, bias included) -> codes [rows][n].
void requantize_channels_ref(const ChannelRequantParams& p, const int32_t* acc, int64_t rows, int64_t n,
                             uint8_t* out);
// The same onto 16-bit codes (hi up to 65535): Swin's patch-merging reduction, whose output is the residual stream
// of the next stage ("residual_bits" 16).
void requantize_channels_ref(const ChannelRequantParams& p, const int32_t* acc, int64_t rows, int64_t n,
                             uint16_t* out);

// Residual add with per-channel zero points on both inputs and the output (PTF with "ptf_zero_point": "channel",
// PTF branch outputs):
//   out[c] = clamp(zp_out[c] + round((a[c] - zp_a[c]) ma[c] + (b[c] - zp_b[c]) mb[c]))
// ma[c], mb[c] share one exponent per channel (one rounding). Bound: |code - zp| < 2^16, |mantissa| < 2^31, so each
// product < 2^47 and the exact sum < 2^48 in int64.
struct ResidualAddChannelParams {
  int64_t channels = 0;
  std::vector<int32_t> a_zero_point, b_zero_point, out_zero_point;  // [C]
  std::vector<FixedMultiplier> a_multiplier, b_multiplier;          // [C]
  int32_t lo = 0, hi = 255;
};
template <typename A, typename B, typename Out>
void residual_add_channel_ref(const ResidualAddChannelParams& p, const A* a, const B* b, int64_t rows, Out* out);

// The token sequence onto a per-channel (possibly 16-bit) stream quantizer: prefix codes and rescaled patch codes
// under qact_embed (uint8, per tensor), plus the position codes (uint8, per tensor) through the add above.
struct EmbedChannelParams {
  int64_t prefix = 1, patches = 0, dim = 0;
  std::vector<uint8_t> prefix_codes;  // [prefix][D]
  RescaleParams patch_to_embed;
  std::vector<uint8_t> pos_codes;     // [prefix + patches][D]
  ResidualAddChannelParams add_pos;
};
template <typename Out>
void embed_tokens_channel_ref(const EmbedChannelParams& p, const uint8_t* patch_codes, Out* tokens);

// The wide integer LayerNorm (quant/int_layer_norm.h int_layer_norm_wide, which is its float emulation):
//   x[c] = (q[c] - zp_in[c]) << in_shift[c]      |x| < 2^16 2^10 = 2^26 (codes up to 16 bits, K up to 10)
//   S1 = sum x (|S1| < 2^37), S2 = sum x^2 (< 2^63 for C <= 2048), D = C S2 - S1^2 in int128 (< 2^74)
//   A[c] = C gamma[c] / sqrt(D) (gamma[c] = gamma_c / s_out[c]), carried as floor(|A| 2^48) (int128)
//   N = clamp(15 - floor(log2 |A|), 0, 40), M = floor(|A| 2^N) < 2^16 (16-bit multiplier)
//   B = round(2^N (beta[c] / s_out[c] - S1 A[c] / C)), out = clamp(zp_out[c] + ((sign M x + B + 2^(N-1)) >> N))
// The final shift rounds half up, like the emulation; D == 0 or A == 0 outputs zero_variance_code[c] =
// clamp(zp_out[c] + round_even(beta_c / s_out[c])). sqrt(D) comes from isqrt_u64 on D scaled by 4^k into
// [2^60, 2^62) (k may be negative: D above 2^62 is shifted down), 30 significant bits.
struct LayerNormWideParams {
  int64_t channels = 0;
  std::vector<int32_t> in_zero_point;        // [C]
  std::vector<uint8_t> in_shift;             // [C]: alpha_c - min alpha, 0..10
  std::vector<FixedMultiplier> gamma;        // [C]: gamma_c / s_out[c]
  std::vector<int64_t> beta_q32;             // [C]: round(beta_c / s_out[c] * 2^32)
  std::vector<uint8_t> zero_variance_code;   // [C]
  std::vector<int32_t> out_zero_point;       // [C]
  int32_t lo = 0, hi = 255;
};
constexpr int kLayerNormWideMaxChannels = 2048;
constexpr int kLayerNormWideMaxShift = 10;
template <typename In>
void layer_norm_wide_ref(const LayerNormWideParams& p, const In* q, int64_t rows, uint8_t* out);

// GELU onto a per-channel (PTF) output quantizer, scales s_g = s1 2^g for a few exponents g. Channel c belongs to
// group[c]; each group has its own threshold tables (GeluParams: rise / fall / h_argmin / code_at_argmin) of the
// *relative* code v(h) = round_even(gelu(h s_g 2^-12) / s_g), clamped to [lo - max zp, hi - min zp] of the group:
//   h = clamp(round((acc + f[c]) * to_h[c]), -2^30, 2^30),  out = clamp(zero_point[c] + v_group[c](h), lo, hi)
// (f[c]: fc1's bias fraction, as to_h_rounding_offset[c], the same offsets as GeluParams' for the paper's form)
// (clamping v to the group's range first changes nothing: zero_point[c] lies inside it). v comes from the group's
// bucket table (as GeluParams' buckets, with int16 values: v spans more than 256 codes when zero points differ):
// one lookup and one compare; a group whose steps are too close for buckets counts them by binary search.
struct GeluStepBuckets {
  int32_t origin = 0, shift = 0;
  std::vector<int16_t> value;  // v at each bucket's first h
  std::vector<int32_t> step;   // the one step inside the bucket (INT32_MAX: none)
  std::vector<int8_t> delta;   // +1 or -1 at that step
};
struct GeluChannelParams {
  int64_t channels = 0;
  std::vector<FixedMultiplier> to_h;  // [C]: s_in s_w[c] / (s_group 2^-12)
  std::vector<int32_t> to_h_rounding_offset;  // [C], or empty (fc1 without a bias)
  std::vector<uint8_t> group;         // [C]
  std::vector<int32_t> zero_point;    // [C]
  std::vector<GeluParams> groups;     // tables only (channels, to_h and GeluParams' own buckets unused)
  std::vector<GeluStepBuckets> buckets;  // beside groups (build_gelu_channel_buckets)
  // The buckets per channel in the packed form of the fused fc1 epilogue (gemm.h ChannelEpilogue): every group's
  // buckets one after the other, e = (v + 512) | (delta + 1) << 10 | step offset in the bucket << 12 (2^shift:
  // none). Empty when a group has no buckets, a v outside [-512, 511] or a shift above 19 (20 bits of offset).
  std::vector<uint32_t> lane_packed;
  std::vector<int32_t> lane_origin, lane_last, lane_shift, lane_base;  // [C]
  int32_t lo = 0, hi = 255;
};
// Fills p.buckets from the groups' rise / fall tables, and the packed per-channel form from those.
void build_gelu_channel_buckets(GeluChannelParams& p);
void gelu_channel_ref(const GeluChannelParams& p, const int32_t* acc, int64_t rows, uint8_t* out);

// attn x V of head h as attention_context_ref (int_ops.h, its accumulator and bound), requantized per output
// channel (attn_v with per-channel factors folded into proj): out[t][h dh + d] = clamp(zp[j] + round(acc m[j])),
// j = h dh + d.
void attention_context_channel_ref(const AttentionParams& p, const ChannelRequantParams& out_q, const uint8_t* probs,
                                   const uint8_t* qkv, int64_t h, uint8_t* out);

// Dispatching forms (plus_dispatch.cc): the AVX-512 kernels (src/kernels/x86/plus_*_avx512.cc, the fused VNNI
// epilogue) when the GEMM path in use is avx512_vnni or amx, the reference kernels above otherwise; same bits.
// A linear onto a per-channel output quantizer, the requantization in the GEMM's epilogue.
void linear_requantize_channels(const PackedWeights& w, int64_t rows, const uint8_t* a, int64_t lda,
                                const int32_t* bias, const ChannelRequantParams& p, uint8_t* out);
// The same onto 16-bit codes (Swin's patch-merging reduction): GEMM, then the reference requantization.
void linear_requantize_channels(const PackedWeights& w, int64_t rows, const uint8_t* a, int64_t lda,
                                const int32_t* bias, const ChannelRequantParams& p, uint16_t* out);
// fc1 with the per-channel GELU groups in its epilogue.
void linear_gelu_channel(const PackedWeights& w, int64_t rows, const uint8_t* a, int64_t lda, const int32_t* bias,
                         const GeluChannelParams& p, uint8_t* out);
// Query rows [t_begin, t_end) of head h, logits -> softmax -> context requantized per channel, fused (the paper's
// rows kernel) when attention_rows_channel_supported(p, context); the executor runs whole heads through the reference
// kernels otherwise.
bool attention_rows_channel_supported(const AttentionParams& p, const ChannelRequantParams& context);
void attention_rows_channel(const AttentionParams& p, const ChannelRequantParams& context, const uint8_t* qkv,
                            int64_t h, int64_t t_begin, int64_t t_end, uint8_t* out);
template <typename A, typename Out>
void residual_add_channel(const ResidualAddChannelParams& p, const A* a, const uint8_t* b, int64_t rows, Out* out);
template <typename In>
void layer_norm_wide(const LayerNormWideParams& p, const In* q, int64_t rows, uint8_t* out);
template <typename Out>
void embed_tokens_channel(const EmbedChannelParams& p, const uint8_t* patch_codes, Out* tokens);

}  // namespace fqvit
