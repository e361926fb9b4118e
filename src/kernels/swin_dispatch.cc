// The dispatching window attention (kernels/swin_ops.h): q k^T, the softmax of unmasked windows and attn x V through
// the dispatching kernels of int_ops.h (AVX-512 where the GEMM path is), the bias add and the masked softmax
// through the reference ones. Same bits as swin_attention_head_ref.
#include "fqvit/kernels/int_ops_plus.h"
#include "fqvit/kernels/swin_ops.h"
#include "kernels/swin_chain.h"

namespace fqvit {

void swin_attention_head(const SwinAttentionParams& p, const uint8_t* qkv, int64_t window, int64_t h,
                         AttentionScratch& scratch, uint8_t* out) {
  swin_attention_chain(p, qkv, window, h, scratch, out, attention_logits, softmax_row, attention_context);
}

void swin_attention_head_channel(const SwinAttentionParams& p, const ChannelRequantParams& context,
                                 const uint8_t* qkv, int64_t window, int64_t h, AttentionScratch& scratch,
                                 uint8_t* out) {
  swin_attention_chain(p, qkv, window, h, scratch, out, attention_logits, softmax_row,
                       [&](const AttentionParams& a, const uint8_t* probs, const uint8_t* v, int64_t head, uint8_t* o) {
                         attention_context_channel_ref(a, context, probs, v, head, o);
                       });
}

}  // namespace fqvit
