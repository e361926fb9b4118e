// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/quant/log_int_softmax.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fqvit/numerics/cascade_sum.h"
#include "fqvit/quant/rounding.h"

namespace fqvit {
namespace {

// I-BERT's second-order fit of exp on [-ln2, 0]: exp(x) ~ a (x + b/a)^2-ish as a x^2 + b x + c, c = 1.
constexpr double kExpA = 0.35815147;
constexpr double kExpB = 0.96963238;
constexpr double kExpC = 1.0;
constexpr float kMinusLn2 = -0.6931f;  // the reference's x0

// 2^e as a float for e in the normal range [-126, 127], exactly (built from the exponent bits; ldexp is slow).
inline float pow2f(int e) { return std::bit_cast<float>(static_cast<uint32_t>(127 + e) << 23); }

// One row of the reference's float emulation: writes k (0..2^b - 1, or 2^b for "exactly zero") of each column as a
// float. The loops are plain element-wise float code so that they vectorize.
void lis_row(const float* x, int64_t cols, float s, const LisParams& p, float* exp_int, float* k_out) {
  // The reference computes python_scalar / tensor as reciprocal(tensor) * scalar (torch's __rtruediv__) and every
  // scalar in float32; keep each operation and its order.
  s = std::ldexp(s, -lis_logit_shift(s, p));  // exact: a power of two (refined logits; 0 for the reference)
  const float recip = 1.0f / s;
  const float x0_int = std::floor(recip * kMinusLn2);
  const float n = static_cast<float>(p.exp_shift);
  const float floor_x = n * x0_int;
  const float b_int = std::floor(recip * static_cast<float>(kExpB / kExpA));
  const float c_int = std::floor((1.0f / (s * s)) * static_cast<float>(kExpC / kExpA));

  float row_max = -INFINITY;
#pragma omp simd reduction(max : row_max)
  for (int64_t j = 0; j < cols; ++j) {
    const float v = x[j] / s;
    row_max = v > row_max ? v : row_max;
  }
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) {
    float xi = x[j] / s - row_max;
    xi = xi > floor_x ? xi : floor_x;
    const float q = std::floor(xi / x0_int);
    const float r = xi - x0_int * q;
    float z = r + b_int;
    z = r * z;
    z = z + c_int;
    const float shift = pow2f(static_cast<int>(n - q));  // 2^(n - q), exact: 0 <= n - q <= n
    const float e = std::floor(z * shift);
    exp_int[j] = e > 0.0f ? e : 0.0f;
  }
  const float sum = torch_sum(exp_int, cols);
  const float zero_from = static_cast<float>(1 << p.bits);  // k >= 2^b: exactly zero
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) {
    const float v = std::rint(sum / exp_int[j]);  // >= 1, or inf when exp_int is 0
    // floor(log2 v) from the exponent bits (v >= 1 is an integer-valued float); torch's float log2 can round up
    // right below a power of two, but log_round's correction below lands on the same k either way.
    const int e = static_cast<int>((std::bit_cast<uint32_t>(v) >> 23) & 0xffu) - 127;
    float k = static_cast<float>(e);
    k = v - pow2f(e) >= pow2f(e - 1) ? k + 1.0f : k;  // log_round: round in the linear domain
    k = k >= zero_from ? zero_from : k;               // inf (e = 128) lands here too
    k_out[j] = k < 0.0f ? 0.0f : k;
  }
}

}  // namespace

int32_t lis_exp_constant(float s) {
  const float c = std::floor((1.0f / (s * s)) * static_cast<float>(kExpC / kExpA));
  return c < static_cast<float>(INT32_MAX) ? static_cast<int32_t>(c) : INT32_MAX;
}

int lis_logit_shift(float logit_scale, const LisParams& p) {
  if (!p.refine_logits) return 0;
  int m = 0;
  while (m < kLisMaxLogitShift && lis_exp_constant(std::ldexp(logit_scale, -(m + 1))) < kLisRefinedMaxC) ++m;
  return m;
}

void lis_codes(const float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p, uint8_t* codes) {
#pragma omp parallel
  {
    std::vector<float> exp_int(static_cast<size_t>(cols)), k(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      lis_row(x + r * cols, cols, logit_scale, p, exp_int.data(), k.data());
      for (int64_t j = 0; j < cols; ++j) codes[r * cols + j] = static_cast<uint8_t>(k[static_cast<size_t>(j)]);
    }
  }
}

void lis_fake_quant(float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p) {
  const float zero = static_cast<float>(lis_zero_code(p.bits));
#pragma omp parallel
  {
    std::vector<float> exp_int(static_cast<size_t>(cols)), k(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float* row = x + r * cols;
      lis_row(row, cols, logit_scale, p, exp_int.data(), k.data());
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) {
        const float kj = k[static_cast<size_t>(j)];
        row[j] = kj == zero ? 0.0f : pow2f(-static_cast<int>(kj));
      }
    }
  }
}

}  // namespace fqvit
