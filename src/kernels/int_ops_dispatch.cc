// The dispatching forms of the non-GEMM integer ops (int_ops.h): the AVX-512 kernels when the GEMM path in use is
// avx512_vnni or amx (both imply AVX-512 F / BW / VL / VNNI on this CPU; LayerNorm also needs CD), the reference kernels otherwise. Read per
// call, so force_gemm_isa() switches these ops too.
#include <algorithm>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops.h"
#include "kernels/x86/int_ops_x86.h"

namespace fqvit {
namespace {

bool use_avx512() { return gemm_isa_in_use() != GemmIsa::kRef; }

}  // namespace

void attention_head(const AttentionParams& p, const uint8_t* qkv, int64_t h, AttentionScratch& scratch,
                    uint8_t* out) {
  if (use_avx512()) return kernels::attention_head_avx512(p, qkv, h, scratch, out);
  attention_head_ref(p, qkv, h, scratch, out);
}

void attention_head_rows(const AttentionParams& p, const uint8_t* qkv, int64_t h, int64_t t_begin, int64_t t_end,
                         AttentionScratch& scratch, uint8_t* out) {
  if (use_avx512() && kernels::attention_rows_avx512_supports(p)) {
    return kernels::attention_rows_avx512(p, qkv, h, t_begin, t_end, out);
  }
  attention_head_rows_ref(p, qkv, h, t_begin, t_end, scratch, out);
}

void attention_logits(const AttentionParams& p, const uint8_t* qkv, int64_t h, uint8_t* logits) {
  if (use_avx512()) return kernels::attention_logits_avx512(p, qkv, h, logits);
  attention_logits_ref(p, qkv, h, logits);
}

void softmax_row(const AttentionParams& p, const uint8_t* logits, int32_t* exp_scratch, uint8_t* probs) {
  if (use_avx512()) return kernels::softmax_row_avx512(p, logits, exp_scratch, probs);
  softmax_row_ref(p, logits, exp_scratch, probs);
}

void attention_context(const AttentionParams& p, const uint8_t* probs, const uint8_t* qkv, int64_t h, uint8_t* out) {
  if (use_avx512()) return kernels::attention_context_avx512(p, probs, qkv, h, out);
  attention_context_ref(p, probs, qkv, h, out);
}

void gelu(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out) {
  if (use_avx512()) return kernels::gelu_avx512(p, acc, rows, out);
  gelu_ref(p, acc, rows, out);
}

void linear_gelu(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                 const GeluParams& p, uint8_t* out) {
  constexpr int32_t kHLimit = int32_t{1} << 30;
  const auto buckets = static_cast<int64_t>(p.bucket_code.size());
  const RequantParams to_h{p.to_h.data(), 0, -kHLimit, kHLimit,
                           p.to_h_rounding_offset.empty() ? nullptr : p.to_h_rounding_offset.data()};
  if (buckets > 0 && p.bucket_packed.size() == p.bucket_code.size()) {
    // h never exceeds 2^30, so the table's last h is taken there (never below the origin), as gelu_ref clamps.
    const int64_t last = std::max<int64_t>(
        std::min<int64_t>(p.bucket_origin + (buckets << p.bucket_shift) - 1, kHLimit), p.bucket_origin);
    const BucketLookup lut{p.bucket_packed.data(), p.bucket_origin, static_cast<int32_t>(last), p.bucket_shift};
    return gemm_u8s8_lookup_u8(w, m, a, lda, bias, to_h, lut, out, p.channels);
  }
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>(m * p.channels));
  gemm_u8s8s32(w, m, a, lda, bias, acc.data(), p.channels);
  gelu(p, acc.data(), m, out);
}

void residual_add(const ResidualAddParams& p, const uint8_t* a, const uint8_t* b, int64_t rows, uint8_t* out) {
  if (use_avx512()) return kernels::residual_add_avx512(p, a, b, rows, out);
  residual_add_ref(p, a, b, rows, out);
}

void layer_norm(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out) {
  // vplzcntq: AVX-512 CD, which every AVX-512 VNNI CPU has, asked all the same.
  static const bool has_cd = __builtin_cpu_supports("avx512cd");
  if (use_avx512() && has_cd) return kernels::layer_norm_avx512(p, q, rows, out);
  layer_norm_ref(p, q, rows, out);
}

}  // namespace fqvit
