// The oneDNN u8 x s8 -> s32 matmul path behind the dispatching GEMMs (until our own VNNI / AMX kernels land):
// integer arithmetic throughout, so it gives exactly the reference loops' int32 sums (the accumulator bound of
// gemm.h rules out overflow, and integer addition does not depend on oneDNN's blocking or ISA).
#pragma once

#include <cstdint>
#include <memory>

namespace fqvit::onednn {

class U8S8Matmul {
 public:
  // w: [n][k] int8 rows (kept by the caller for the lifetime of this object).
  U8S8Matmul(const int8_t* w, int64_t n, int64_t k);
  ~U8S8Matmul();
  U8S8Matmul(const U8S8Matmul&) = delete;
  U8S8Matmul& operator=(const U8S8Matmul&) = delete;
  // c[m][n] (row stride ldc) = a[m][k] (row stride lda) * w^T; false when oneDNN refused (the caller falls back).
  bool run(int64_t m, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc) const;
  bool ok() const { return primitive_ != nullptr; }

 private:
  struct State;
  const int8_t* w_;
  int64_t n_, k_;
  void* primitive_ = nullptr;  // dnnl_primitive_t
};

}  // namespace fqvit::onednn
