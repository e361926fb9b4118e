// The dispatching forms of Swin's ops (kernels/swin_ops.h): the AVX-512 kernels of src/kernels/x86/swin_*_avx512.cc
// when the GEMM path in use is avx512_vnni or amx (both imply AVX-512 F / BW / VL on this CPU), the reference kernels
// otherwise; q k^T, the unmasked softmax and attn x V through the dispatching kernels of int_ops.h. Read per call,
// so force_gemm_isa() switches these ops too. Same bits as the references.
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops_plus.h"
#include "fqvit/kernels/swin_ops.h"
#include "kernels/swin_chain.h"
#include "kernels/x86/swin_x86.h"

namespace fqvit {
namespace {

bool use_avx512() { return gemm_isa_in_use() != GemmIsa::kRef; }

// The pools' per-channel int32 sums, AVX-512 or plain (|sum| <= T * 255 < 2^31, T < 2^23 checked by the lowering).
const int32_t* token_sums(const uint8_t* in, int64_t tokens, int64_t channels, int32_t zero_point) {
  thread_local std::vector<int32_t> sums;
  sums.assign(static_cast<size_t>(channels), 0);
  if (use_avx512()) {
    kernels::token_sums_avx512(in, tokens, channels, zero_point, sums.data());
  } else {
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t c = 0; c < channels; ++c) sums[static_cast<size_t>(c)] += int32_t{in[t * channels + c]} - zero_point;
    }
  }
  return sums.data();
}

}  // namespace

void gather_rows(const RowGatherParams& p, const uint8_t* in, uint8_t* out) {
  if (use_avx512()) return kernels::gather_rows_avx512(p, in, out);
  gather_rows_ref(p, in, out);
}

void swin_bias_logits(const SwinAttentionParams& p, int64_t h, const uint8_t* a, uint8_t* out) {
  if (use_avx512()) return kernels::swin_bias_logits_avx512(p, h, a, out);
  swin_bias_logits_ref(p, h, a, out);
}

void swin_softmax_rows(const SwinAttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs) {
  if (use_avx512()) return kernels::swin_softmax_rows_avx512(p, logits, exp_scratch, probs);
  swin_softmax_rows_ref(p, logits, exp_scratch, probs);
}

void swin_masked_softmax(const SwinAttentionParams& p, int64_t window, const uint8_t* logits, int32_t* exp_scratch,
                         uint8_t* probs) {
  if (use_avx512()) return kernels::swin_masked_softmax_avx512(p, window, logits, exp_scratch, probs);
  swin_masked_softmax_ref(p, window, logits, exp_scratch, probs);
}

void swin_attention_head(const SwinAttentionParams& p, const uint8_t* qkv, int64_t window, int64_t h,
                         AttentionScratch& scratch, uint8_t* out) {
  swin_attention_chain(p, qkv, window, h, scratch, out, attention_logits, swin_bias_logits, swin_softmax_rows,
                       swin_masked_softmax, attention_context);
}

void swin_attention_head_channel(const SwinAttentionParams& p, const ChannelRequantParams& context,
                                 const uint8_t* qkv, int64_t window, int64_t h, AttentionScratch& scratch,
                                 uint8_t* out) {
  swin_attention_chain(p, qkv, window, h, scratch, out, attention_logits, swin_bias_logits, swin_softmax_rows,
                       swin_masked_softmax,
                       [&](const AttentionParams& a, const uint8_t* probs, const uint8_t* v, int64_t head, uint8_t* o) {
                         attention_context_channel_ref(a, context, probs, v, head, o);
                       });
}

// The same sums as token_mean_ref / token_mean_channel_ref, requantized by the same requantize().
void token_mean(const TokenMeanParams& p, const uint8_t* in, uint8_t* out) {
  const int32_t* sums = token_sums(in, p.tokens, p.channels, p.in_zero_point);
  for (int64_t c = 0; c < p.channels; ++c) {
    out[c] = static_cast<uint8_t>(requantize(sums[c], p.multiplier, p.out_zero_point, p.lo, p.hi));
  }
}

void token_mean_channel(const TokenMeanChannelParams& p, const uint8_t* in, uint8_t* out) {
  const int32_t* sums = token_sums(in, p.tokens, p.channels, p.in_zero_point);
  for (int64_t c = 0; c < p.channels; ++c) {
    const auto cc = static_cast<size_t>(c);
    out[c] = static_cast<uint8_t>(requantize(sums[c], p.multiplier[cc], p.out_zero_point[cc], p.lo, p.hi));
  }
}

}  // namespace fqvit
