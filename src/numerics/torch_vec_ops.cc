#include "fqvit/numerics/torch_vec_ops.h"

#include <immintrin.h>
#include <sleef.h>

#include <algorithm>
#include <cstring>

#include "fqvit/numerics/cascade_sum.h"

extern "C" char* openblas_get_corename(void);

// The vector code is compiled for AVX2 + FMA whatever -march says, as torch's AVX2 kernels are; no contraction of
// a * b + c into FMA beyond the intrinsics torch itself uses (built with -ffp-contract=off, CMakeLists.txt).

namespace fqvit::torch_cpu {
namespace {

constexpr int kLanes = 8;  // Vectorized<float> under AVX2

#define FQVIT_AVX2 __attribute__((target("avx2,fma")))

// Vectorized<float>::loadu(ptr, count): the missing lanes are zero.
FQVIT_AVX2 __m256 load_partial(const float* p, int64_t count) {
  alignas(32) float tmp[kLanes] = {};
  std::memcpy(tmp, p, static_cast<size_t>(count) * sizeof(float));
  return _mm256_load_ps(tmp);
}

FQVIT_AVX2 void store_partial(float* p, __m256 v, int64_t count) {
  alignas(32) float tmp[kLanes];
  _mm256_store_ps(tmp, v);
  std::memcpy(p, tmp, static_cast<size_t>(count) * sizeof(float));
}

// vec_reduce_all's AVX2 specialization: 128-bit, then 64-bit, then 32-bit shuffles.
FQVIT_AVX2 float reduce_sum8(__m256 v) {
  v = _mm256_add_ps(v, _mm256_permute2f128_ps(v, v, 0x1));
  v = _mm256_add_ps(v, _mm256_shuffle_ps(v, v, 0x4E));
  v = _mm256_add_ps(v, _mm256_shuffle_ps(v, v, 0xB1));
  return _mm256_cvtss_f32(v);
}

// Vectorized<float> maximum: propagates NaN.
FQVIT_AVX2 __m256 max8(__m256 a, __m256 b) {
  return _mm256_or_ps(_mm256_max_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
}

FQVIT_AVX2 float reduce_max8(__m256 v) {
  v = max8(v, _mm256_permute2f128_ps(v, v, 0x1));
  v = max8(v, _mm256_shuffle_ps(v, v, 0x4E));
  v = max8(v, _mm256_shuffle_ps(v, v, 0xB1));
  return _mm256_cvtss_f32(v);
}

// vec::reduce_all: full vectors folded lane-wise, the partial tail blended into the first lanes, then the tree.
// Rows shorter than one vector take vec_reduce_all's slow path (sequential over the lanes).
template <typename Op>
FQVIT_AVX2 float reduce_all(const float* p, int64_t n, Op op, float (*tree)(__m256)) {
  if (n < kLanes) {
    alignas(32) float lanes[kLanes];
    _mm256_store_ps(lanes, load_partial(p, n));
    __m256 acc = _mm256_load_ps(lanes);
    for (int64_t i = 1; i < n; ++i) {
      alignas(32) float next[kLanes] = {};
      next[0] = lanes[i];
      acc = op(acc, _mm256_load_ps(next));
    }
    return _mm256_cvtss_f32(acc);
  }
  __m256 acc = _mm256_loadu_ps(p);
  int64_t d = kLanes;
  for (; d < n - n % kLanes; d += kLanes) acc = op(acc, _mm256_loadu_ps(p + d));
  if (n - d > 0) {
    const __m256 folded = op(acc, load_partial(p + d, n - d));
    alignas(32) float a[kLanes], f[kLanes];
    _mm256_store_ps(a, acc);
    _mm256_store_ps(f, folded);
    std::copy(f, f + (n - d), a);  // Vectorized::set(acc, folded, count)
    acc = _mm256_load_ps(a);
  }
  return tree(acc);
}

FQVIT_AVX2 void softmax_row(float* x, int64_t n) {
  const float max = reduce_all(x, n, [](__m256 a, __m256 b) FQVIT_AVX2 { return max8(a, b); }, reduce_max8);
  const __m256 vmax = _mm256_set1_ps(max);
  int64_t d = 0;
  for (; d < n - n % kLanes; d += kLanes) {
    _mm256_storeu_ps(x + d, Sleef_expf8_u10(_mm256_sub_ps(_mm256_loadu_ps(x + d), vmax)));
  }
  if (n - d > 0) store_partial(x + d, Sleef_expf8_u10(_mm256_sub_ps(load_partial(x + d, n - d), vmax)), n - d);
  float sum = reduce_all(x, n, [](__m256 a, __m256 b) FQVIT_AVX2 { return _mm256_add_ps(a, b); }, reduce_sum8);
  sum = 1 / sum;
  const __m256 vinv = _mm256_set1_ps(sum);
  d = 0;
  for (; d < n - n % kLanes; d += kLanes) _mm256_storeu_ps(x + d, _mm256_mul_ps(_mm256_loadu_ps(x + d), vinv));
  if (n - d > 0) store_partial(x + d, _mm256_mul_ps(load_partial(x + d, n - d), vinv), n - d);
}

}  // namespace

bool torch_cpu_supported() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

std::string platform() {
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return std::string("OpenBLAS ") + openblas_get_corename() + (avx512 ? ", AVX-512" : ", no AVX-512");
}

void mean_over_tokens(const float* x, int64_t batch, int64_t tokens, int64_t channels, float* y) {
  const auto count = static_cast<float>(tokens);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batch; ++b) {
    const float* base = x + b * tokens * channels;
    for (int64_t c = 0; c < channels; ++c) y[b * channels + c] = torch_strided_sum(base + c, tokens, channels) / count;
  }
}

void softmax_rows(float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) softmax_row(x + r * cols, cols);
}

}  // namespace fqvit::torch_cpu
