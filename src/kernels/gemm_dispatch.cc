// Packed weights and the dispatching GEMM entry points. This CPU-independent path keeps the weights as plain
// [n][k] rows and runs the reference loops; the SIMD paths (AVX-512 VNNI, AMX) register here as they land.
#include <cstring>
#include <vector>

#include "fqvit/kernels/gemm.h"

namespace fqvit {

struct PackedWeights::Impl {
  int64_t n = 0;
  int64_t k = 0;
  std::vector<int8_t> rows;  // [n][k]
};

PackedWeights::PackedWeights(const int8_t* w, int64_t n, int64_t k) : impl_(std::make_unique<Impl>()) {
  impl_->n = n;
  impl_->k = k;
  impl_->rows.assign(w, w + n * k);
}
PackedWeights::~PackedWeights() = default;
PackedWeights::PackedWeights(PackedWeights&&) noexcept = default;
PackedWeights& PackedWeights::operator=(PackedWeights&&) noexcept = default;
int64_t PackedWeights::n() const { return impl_->n; }
int64_t PackedWeights::k() const { return impl_->k; }

void gemm_u8s8s32(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias, int32_t* c,
                  int64_t ldc) {
  const auto& p = w.impl();
  gemm_u8s8s32_ref(m, p.n, p.k, a, lda, p.rows.data(), bias, c, ldc);
}

void gemm_u8s8_requant_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, uint8_t* out, int64_t ldo) {
  const auto& p = w.impl();
  gemm_u8s8_requant_u8_ref(m, p.n, p.k, a, lda, p.rows.data(), bias, rq, out, ldo);
}

std::string gemm_isa() { return "ref"; }

}  // namespace fqvit
