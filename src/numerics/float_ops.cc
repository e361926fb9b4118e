#include "fqvit/numerics/float_ops.h"

#include <dnnl.h>
#include <omp.h>

// GCC 12 reports false "maybe uninitialized" warnings inside its own AVX-512 intrinsics when Eigen inlines them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unsupported/Eigen/SpecialFunctions>

namespace fqvit {

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
           bool b_transposed, float* c, int64_t ldc) {
  const dnnl_status_t status =
      dnnl_sgemm('N', b_transposed ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
  if (status != dnnl_success) {
    throw std::runtime_error("dnnl_sgemm failed with status " + std::to_string(static_cast<int>(status)));
  }
}

void linear(const float* x, int64_t rows, int64_t in, int64_t x_stride, const Tensor& weight, const Tensor* bias,
            float* y) {
  assert(weight.rank() == 2 && weight.dim(1) == in);
  const int64_t out = weight.dim(0);
  sgemm(rows, out, in, 1.0f, x, x_stride, weight.data(), in, /*b_transposed=*/true, y, out);
  if (bias != nullptr) {
    const float* b = bias->data();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float* row = y + r * out;
      for (int64_t c = 0; c < out; ++c) row[c] += b[c];
    }
  }
}

void layer_norm(const float* x, int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta, float eps,
                float* y) {
  const Eigen::Map<const Eigen::ArrayXf> g(gamma.data(), channels), b(beta.data(), channels);
  const auto n = static_cast<float>(channels);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    // Two passes (mean, then squared deviations) as torch's CPU kernel; Eigen vectorizes both sums.
    const Eigen::Map<const Eigen::ArrayXf> in(x + r * channels, channels);
    const float mean = in.sum() / n;
    const float var = (in - mean).square().sum() / n;
    const float inv_std = 1.0f / std::sqrt(var + eps);
    Eigen::Map<Eigen::ArrayXf>(y + r * channels, channels) = (in - mean) * inv_std * g + b;
  }
}

namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;

// Splits [0, n) into one contiguous chunk per OpenMP thread (multiples of 16 floats, one AVX-512 vector).
template <typename Fn>
void for_each_chunk(int64_t n, Fn fn) {
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (n / threads + 15) / 16 * 16;
    const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
    if (end > begin) fn(begin, end - begin);
  }
}

}  // namespace

// Eigen's vectorized erf and exp: scalar libm calls here cost as much as the GEMMs around them. Every element goes
// through the same 16-wide vector code (the tail through a padded buffer), so a value's result does not depend on
// where it sits in the batch.
void gelu_erf(float* x, int64_t n) {
  constexpr int64_t kLanes = 16;
  auto gelu = [](float* p, int64_t count) {
    constexpr float kInvSqrt2 = 0.70710678118654752440f;
    ArrayMap a(p, count);
    a = 0.5f * a * (1.0f + (a * kInvSqrt2).erf());
  };
  const int64_t body = n / kLanes * kLanes;
  for_each_chunk(body, [&](int64_t begin, int64_t count) { gelu(x + begin, count); });
  if (body < n) {
    alignas(64) float tail[kLanes] = {};
    std::copy(x + body, x + n, tail);
    gelu(tail, kLanes);
    std::copy(tail, tail + (n - body), x + body);
  }
}

void softmax_rows(float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    ArrayMap a(x + r * cols, cols);
    const float max = a.maxCoeff();
    a = (a - max).exp();
    a *= 1.0f / a.sum();
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace fqvit
