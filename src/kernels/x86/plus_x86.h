// AVX-512 versions of the fqvit_plus kernels of include/fqvit/kernels/int_ops_plus.h (files plus_*_avx512.cc): same
// contracts and same bits as the reference kernels in src/kernels/ref/plus_ref.cc, run only on CPUs that have the
// instructions (plus_dispatch.cc). Plain types only in this header: it is included by files compiled without ISA
// flags. One overload per code type pair the executor uses.
#pragma once

#include <cstdint>

#include "fqvit/kernels/int_ops_plus.h"

namespace fqvit::kernels {

void residual_add_channel_avx512(const ResidualAddChannelParams& p, const uint8_t* a, const uint8_t* b, int64_t rows,
                                 uint8_t* out);
void residual_add_channel_avx512(const ResidualAddChannelParams& p, const uint8_t* a, const uint8_t* b, int64_t rows,
                                 uint16_t* out);
void residual_add_channel_avx512(const ResidualAddChannelParams& p, const uint16_t* a, const uint8_t* b, int64_t rows,
                                 uint16_t* out);

// Needs AVX-512 DQ (vpmullq) and CD (vplzcntq) besides F / BW / VL.
void layer_norm_wide_avx512(const LayerNormWideParams& p, const uint8_t* q, int64_t rows, uint8_t* out);
void layer_norm_wide_avx512(const LayerNormWideParams& p, const uint16_t* q, int64_t rows, uint8_t* out);

// attention_rows_avx512 (int_ops_x86.h) with the context requantized per output channel (attention_rows_avx512.cc;
// attention_context_channel_ref's arithmetic). Needs head_dim <= 256, |context zero points| < 2^29 and
// 0 <= lo <= hi <= 255 (attention_rows_channel_supported, plus_dispatch.cc).
void attention_rows_channel_avx512(const AttentionParams& p, const ChannelRequantParams& context, const uint8_t* qkv,
                                   int64_t h, int64_t t_begin, int64_t t_end, uint8_t* out);

}  // namespace fqvit::kernels
