// The dispatching forms of the fqvit_plus ops (int_ops_plus.h): the AVX-512 kernels (src/kernels/x86/plus_*) and the
// VNNI GEMM's per-channel epilogue when the GEMM path in use is avx512_vnni or amx, the reference kernels otherwise
// (read per call, so force_gemm_isa() switches these ops too, as int_ops_dispatch.cc).
#include <algorithm>
#include <cstddef>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops_plus.h"
#include "kernels/x86/plus_x86.h"

namespace fqvit {
namespace {

constexpr int32_t kHLimit = int32_t{1} << 30;
constexpr int32_t kZeroPointLimit = int32_t{1} << 29;  // gemm.h ChannelEpilogue's precondition

bool use_avx512() { return gemm_isa_in_use() != GemmIsa::kRef; }
bool has_dq_cd() {
  static const bool has = __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
  return has;
}

// The fused epilogue runs on the weights' own path; the ref path keeps the plain reference kernels.
bool fused(const PackedWeights& w, const std::vector<int32_t>& zero_point, int32_t lo, int32_t hi) {
  if (packed_isa(w) == GemmIsa::kRef || lo < 0 || lo > hi || hi > 255) return false;
  for (int32_t z : zero_point) {
    if (z <= -kZeroPointLimit || z >= kZeroPointLimit) return false;
  }
  return true;
}

RequantParams to_wide_h(const std::vector<FixedMultiplier>& multiplier, const std::vector<int32_t>& offset) {
  return {multiplier.data(), 0, -kHLimit, kHLimit, offset.empty() ? nullptr : offset.data()};
}

}  // namespace

void linear_requantize_channels(const PackedWeights& w, int64_t rows, const uint8_t* a, int64_t lda,
                                const int32_t* bias, const ChannelRequantParams& p, uint8_t* out) {
  const int64_t n = w.n();
  if (fused(w, p.zero_point, p.lo, p.hi)) {
    ChannelEpilogue ep;
    ep.zero_point = p.zero_point.data();
    ep.lo = p.lo, ep.hi = p.hi;
    return gemm_u8s8_channel_u8(w, rows, a, lda, bias, to_wide_h(p.multiplier, p.rounding_offset), ep, out, n);
  }
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>(rows * n));
  gemm_u8s8s32(w, rows, a, lda, bias, acc.data(), n);
  requantize_channels_ref(p, acc.data(), rows, n, out);
}

void linear_requantize_channels(const PackedWeights& w, int64_t rows, const uint8_t* a, int64_t lda,
                                const int32_t* bias, const ChannelRequantParams& p, uint16_t* out) {
  const int64_t n = w.n();  // no fused 16-bit epilogue: int32 sums, then the reference requantization
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>(rows * n));
  gemm_u8s8s32(w, rows, a, lda, bias, acc.data(), n);
  requantize_channels_ref(p, acc.data(), rows, n, out);
}

void linear_gelu_channel(const PackedWeights& w, int64_t rows, const uint8_t* a, int64_t lda, const int32_t* bias,
                         const GeluChannelParams& p, uint8_t* out) {
  const int64_t n = w.n();
  if (!p.lane_packed.empty() && fused(w, p.zero_point, p.lo, p.hi)) {
    ChannelEpilogue ep;
    ep.zero_point = p.zero_point.data();
    ep.gelu_packed = p.lane_packed.data();
    ep.origin = p.lane_origin.data(), ep.last = p.lane_last.data();
    ep.shift = p.lane_shift.data(), ep.base = p.lane_base.data();
    ep.lo = p.lo, ep.hi = p.hi;
    return gemm_u8s8_channel_u8(w, rows, a, lda, bias, to_wide_h(p.to_h, p.to_h_rounding_offset), ep, out, n);
  }
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>(rows * n));
  gemm_u8s8s32(w, rows, a, lda, bias, acc.data(), n);
  gelu_channel_ref(p, acc.data(), rows, out);
}

bool attention_rows_channel_supported(const AttentionParams& p, const ChannelRequantParams& context) {
  if (!use_avx512() || p.head_dim > 256 || context.lo < 0 || context.lo > context.hi || context.hi > 255) return false;
  for (int32_t z : context.zero_point) {
    if (z <= -kZeroPointLimit || z >= kZeroPointLimit) return false;
  }
  return true;
}

void attention_rows_channel(const AttentionParams& p, const ChannelRequantParams& context, const uint8_t* qkv,
                            int64_t h, int64_t t_begin, int64_t t_end, uint8_t* out) {
  kernels::attention_rows_channel_avx512(p, context, qkv, h, t_begin, t_end, out);
}

template <typename A, typename Out>
void residual_add_channel(const ResidualAddChannelParams& p, const A* a, const uint8_t* b, int64_t rows, Out* out) {
  if (use_avx512()) return kernels::residual_add_channel_avx512(p, a, b, rows, out);
  residual_add_channel_ref(p, a, b, rows, out);
}

template <typename In>
void layer_norm_wide(const LayerNormWideParams& p, const In* q, int64_t rows, uint8_t* out) {
  if (use_avx512() && has_dq_cd()) return kernels::layer_norm_wide_avx512(p, q, rows, out);
  layer_norm_wide_ref(p, q, rows, out);
}

template <typename Out>
void embed_tokens_channel(const EmbedChannelParams& p, const uint8_t* patch_codes, Out* tokens) {
  if (!use_avx512()) return embed_tokens_channel_ref(p, patch_codes, tokens);
  // embed_tokens_channel_ref's steps, its residual add on the AVX-512 kernel.
  const int64_t d = p.dim, t_count = p.prefix + p.patches;
  thread_local std::vector<uint8_t> embed;
  embed.resize(static_cast<size_t>(t_count * d));
  std::copy(p.prefix_codes.begin(), p.prefix_codes.begin() + p.prefix * d, embed.begin());
  rescale_codes_ref(p.patch_to_embed, patch_codes, p.patches * d, embed.data() + p.prefix * d);
  kernels::residual_add_channel_avx512(p.add_pos, embed.data(), p.pos_codes.data(), t_count, tokens);
}

template void embed_tokens_channel(const EmbedChannelParams&, const uint8_t*, uint8_t*);
template void embed_tokens_channel(const EmbedChannelParams&, const uint8_t*, uint16_t*);
template void residual_add_channel(const ResidualAddChannelParams&, const uint8_t*, const uint8_t*, int64_t, uint8_t*);
template void residual_add_channel(const ResidualAddChannelParams&, const uint8_t*, const uint8_t*, int64_t,
                                   uint16_t*);
template void residual_add_channel(const ResidualAddChannelParams&, const uint16_t*, const uint8_t*, int64_t,
                                   uint16_t*);
template void layer_norm_wide(const LayerNormWideParams&, const uint8_t*, int64_t, uint8_t*);
template void layer_norm_wide(const LayerNormWideParams&, const uint16_t*, int64_t, uint8_t*);

}  // namespace fqvit
