// Packed weights and the dispatching GEMM entry points. Weights stay plain [n][k] rows; the int32 products go
// through oneDNN's u8 x s8 -> s32 matmul (its own VNNI / AMX code, exact integers) unless FQVIT_ISA=ref, and the
// requantizing epilogue is ours. Our own SIMD paths (AVX-512 VNNI, AMX) register here as they land.
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "kernels/onednn_gemm.h"

namespace fqvit {

namespace {

// The path chosen once: FQVIT_ISA=ref forces the plain loops.
bool use_onednn() {
  static const bool on = [] {
    const char* isa = std::getenv("FQVIT_ISA");
    return isa == nullptr || std::string_view(isa) != "ref";
  }();
  return on;
}

}  // namespace

struct PackedWeights::Impl {
  int64_t n = 0;
  int64_t k = 0;
  std::vector<int8_t> rows;  // [n][k]
  std::unique_ptr<onednn::U8S8Matmul> matmul;  // null on the ref path or when oneDNN refused the shape
};

PackedWeights::PackedWeights(const int8_t* w, int64_t n, int64_t k) : impl_(std::make_unique<Impl>()) {
  impl_->n = n;
  impl_->k = k;
  impl_->rows.assign(w, w + n * k);
  if (use_onednn()) {
    impl_->matmul = std::make_unique<onednn::U8S8Matmul>(impl_->rows.data(), n, k);
    if (!impl_->matmul->ok()) impl_->matmul.reset();
  }
}
PackedWeights::~PackedWeights() = default;
PackedWeights::PackedWeights(PackedWeights&&) noexcept = default;
PackedWeights& PackedWeights::operator=(PackedWeights&&) noexcept = default;
int64_t PackedWeights::n() const { return impl_->n; }
int64_t PackedWeights::k() const { return impl_->k; }

void gemm_u8s8s32(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias, int32_t* c,
                  int64_t ldc) {
  const auto& p = w.impl();
  if (p.matmul && p.matmul->run(m, a, lda, c, ldc)) {
    if (bias != nullptr) {
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < p.n; ++j) c[i * ldc + j] += bias[j];  // exact: the sum is within gemm.h's bound
      }
    }
    return;
  }
  gemm_u8s8s32_ref(m, p.n, p.k, a, lda, p.rows.data(), bias, c, ldc);
}

void gemm_u8s8_requant_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, uint8_t* out, int64_t ldo) {
  const auto& p = w.impl();
  if (!p.matmul) {
    gemm_u8s8_requant_u8_ref(m, p.n, p.k, a, lda, p.rows.data(), bias, rq, out, ldo);
    return;
  }
  constexpr int64_t kRows = 64;  // accumulator tile on the stack of this thread
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>(kRows * p.n));
  for (int64_t r0 = 0; r0 < m; r0 += kRows) {
    const int64_t rows = m - r0 < kRows ? m - r0 : kRows;
    gemm_u8s8s32(w, rows, a + r0 * lda, lda, bias, acc.data(), p.n);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        out[(r0 + i) * ldo + j] = static_cast<uint8_t>(
            requantize(acc[static_cast<size_t>(i * p.n + j)], rq.multiplier[j], rq.zero_point, rq.lo, rq.hi));
      }
    }
  }
}

std::string gemm_isa() { return use_onednn() ? "onednn" : "ref"; }

}  // namespace fqvit
