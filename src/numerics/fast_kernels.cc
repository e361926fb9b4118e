// The fast kernel set: float_ops (oneDNN sgemm, Eigen) and the im2col patch embedding.
#include "fqvit/numerics/fast_kernels.h"

#include <algorithm>

#include "fqvit/numerics/float_ops.h"
#include "fqvit/numerics/patch_embed.h"

namespace fqvit {
namespace {

class FastKernels final : public FloatKernels {
 public:
  void linear(const float* x, int64_t rows, int64_t in, int64_t x_stride, const Tensor& weight, const Tensor* bias,
              float* y) const override {
    fqvit::linear(x, rows, in, x_stride, weight, bias, y);
  }
  void batched_gemm(int64_t outer, int64_t heads, int64_t m, int64_t n, int64_t k, float alpha, bool b_transposed,
                    const std::function<GemmOperands(int64_t)>& operands) const override {
    const int64_t count = outer * heads;
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < count; ++i) {
      const GemmOperands o = operands(i);
      sgemm(m, n, k, alpha, o.a, o.lda, o.b, o.ldb, b_transposed, o.c, o.ldc);
    }
  }
  Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias) const override {
    return fqvit::patch_embed(images, weight, bias);
  }
  void layer_norm(const float* x, int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta, float eps,
                  float* y) const override {
    fqvit::layer_norm(x, rows, channels, gamma, beta, eps, y);
  }
  void gelu(float* x, int64_t n) const override { gelu_erf(x, n); }
  void softmax_rows(float* x, int64_t rows, int64_t cols) const override { fqvit::softmax_rows(x, rows, cols); }
  void mean_over_tokens(const float* x, int64_t batch, int64_t tokens, int64_t channels, float* y) const override {
    const auto count = static_cast<float>(tokens);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      float* dst = y + b * channels;
      std::fill(dst, dst + channels, 0.0f);
      for (int64_t t = 0; t < tokens; ++t) {
        const float* src = x + (b * tokens + t) * channels;
        for (int64_t c = 0; c < channels; ++c) dst[c] += src[c];
      }
      for (int64_t c = 0; c < channels; ++c) dst[c] /= count;
    }
  }
};

}  // namespace

const FloatKernels& fast_kernels() {
  static const FastKernels kernels;
  return kernels;
}

}  // namespace fqvit
