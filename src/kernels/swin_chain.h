// The window attention of one (window, head) as a chain of stages (kernels/swin_ops.h): q k^T, the relative
// position bias, the softmax (masked where the window has a mask), attn x V. The reference and the dispatching forms
// differ only in the kernels they pass.
#pragma once

#include <cstddef>

#include "fqvit/kernels/swin_ops.h"

namespace fqvit {

template <typename Logits, typename Bias, typename SoftmaxRows, typename MaskedSoftmax, typename Context>
void swin_attention_chain(const SwinAttentionParams& p, const uint8_t* qkv, int64_t window, int64_t h,
                          AttentionScratch& scratch, uint8_t* out, Logits logits, Bias bias, SoftmaxRows softmax_rows,
                          MaskedSoftmax masked_softmax, Context context) {
  const AttentionParams& a = p.attention;
  const auto square = static_cast<std::size_t>(a.tokens * a.tokens);
  scratch.logits.resize(square);
  scratch.probs.resize(square);
  scratch.exp.resize(static_cast<std::size_t>(a.tokens));
  logits(a, qkv, h, scratch.probs.data());  // attn.qact_attn1 codes, in probs until biased
  bias(p, h, scratch.probs.data(), scratch.logits.data());
  if (!p.window_has_mask(window)) {
    softmax_rows(p, scratch.logits.data(), scratch.exp.data(), scratch.probs.data());
  } else {
    masked_softmax(p, window, scratch.logits.data(), scratch.exp.data(), scratch.probs.data());
  }
  context(a, scratch.probs.data(), qkv, h, out);
}

}  // namespace fqvit
