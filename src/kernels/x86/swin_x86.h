// AVX-512 (F, BW, VL) versions of Swin's integer ops (include/fqvit/kernels/swin_ops.h): same contracts and same bits
// as the reference kernels of src/kernels/ref/swin_ref.cc, run only where the dispatch (swin_dispatch.cc) finds the
// instructions. Plain types only in this header: it is included by files compiled without ISA flags.
#pragma once

#include <cstdint>

#include "fqvit/kernels/swin_ops.h"

namespace fqvit::kernels {

// swin_attention_avx512.cc: the relative-position-bias add of head h, and the masked softmax of a window's rows.
void swin_bias_logits_avx512(const SwinAttentionParams& p, int64_t h, const uint8_t* a, uint8_t* out);
// The N rows of a window nothing masks: the VBMI form (softmax_avx512vbmi.cc, four rows at a time, its byte-plane
// table built once for the window's rows) where the CPU and the table allow it, else the gather form row by row.
void swin_softmax_rows_avx512(const SwinAttentionParams& p, const uint8_t* logits, int32_t* exp_scratch,
                              uint8_t* probs);
void swin_masked_softmax_avx512(const SwinAttentionParams& p, int64_t window, const uint8_t* logits,
                                int32_t* exp_scratch, uint8_t* probs);

// swin_gather_avx512.cc: the row gathers (64-byte copies), and the average pools' sums: sums[c] = sum_t (in[t][c] -
// zero_point) over `tokens` rows of `channels` codes (int32: T * 255 < 2^31).
void gather_rows_avx512(const RowGatherParams& p, const uint8_t* in, uint8_t* out);
void token_sums_avx512(const uint8_t* in, int64_t tokens, int64_t channels, int32_t zero_point, int32_t* sums);

}  // namespace fqvit::kernels
