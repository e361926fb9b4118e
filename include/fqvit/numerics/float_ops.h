// FP32 building blocks of the float graphs. Matrices are row-major; "rows" are tokens (batch folded in).
// GEMMs go to oneDNN's sgemm (AVX-512 / AMX-aware, OpenMP-threaded); the rest are plain OpenMP loops.
#pragma once

#include <cstdint>

#include "fqvit/core/tensor.h"

namespace fqvit {

// y[rows, out] = x[rows, in] * weight[out, in]^T + bias[out] (bias may be null). x has row stride `x_stride`.
void linear(const float* x, int64_t rows, int64_t in, int64_t x_stride, const Tensor& weight, const Tensor* bias,
            float* y);

// C[m, n] = alpha * A[m, k] * op(B) with op(B) = B^T ([n, k]) when b_transposed, else B ([k, n]).
// Single-threaded inside an OpenMP region, threaded outside.
void sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
           bool b_transposed, float* c, int64_t ldc);

// LayerNorm over the last axis; y may alias x. Mean and variance are two float32 passes (Eigen's vectorized sums).
void layer_norm(const float* x, int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta, float eps,
                float* y);

// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), in place.
void gelu_erf(float* x, int64_t n);

// Numerically stable softmax over each row, in place.
void softmax_rows(float* x, int64_t rows, int64_t cols);

// y[i] += x[i].
void add_inplace(float* y, const float* x, int64_t n);

}  // namespace fqvit
