#include "fqvit/quant/log_int_softmax.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

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

// One row of the reference's float emulation: writes the code of each column.
void lis_row(const float* x, int64_t cols, float s, const LisParams& p, float* exp_int, uint8_t* codes) {
  // The reference computes python_scalar / tensor as reciprocal(tensor) * scalar (torch's __rtruediv__) and every
  // scalar in float32; keep each operation and its order.
  const float recip = 1.0f / s;
  const float x0_int = std::floor(recip * kMinusLn2);
  const float n = static_cast<float>(p.exp_shift);
  const float b_int = std::floor(recip * static_cast<float>(kExpB / kExpA));
  const float c_int = std::floor((1.0f / (s * s)) * static_cast<float>(kExpC / kExpA));

  float row_max = -INFINITY;
  for (int64_t j = 0; j < cols; ++j) row_max = std::max(row_max, x[j] / s);
  for (int64_t j = 0; j < cols; ++j) {
    float xi = x[j] / s - row_max;
    xi = std::max(xi, n * x0_int);
    const float q = std::floor(xi / x0_int);
    const float r = xi - x0_int * q;
    float z = r + b_int;
    z = r * z;
    z = z + c_int;
    const float shift = pow2f(static_cast<int>(n - q));  // 2^(n - q), exact: 0 <= n - q <= n
    exp_int[j] = std::max(std::floor(z * shift), 0.0f);
  }
  const float sum = torch_sum(exp_int, cols);
  const float zero_from = std::ldexp(1.0f, p.bits);  // k >= 2^b: exactly zero
  const float max_code = zero_from - 1.0f;
  for (int64_t j = 0; j < cols; ++j) {
    const float v = round_half_even(sum / exp_int[j]);  // inf when exp_int is 0
    if (!std::isfinite(v)) {
      codes[j] = lis_zero_code(p.bits);
      continue;
    }
    // log_round: k = floor(log2 v), plus one when v - 2^k >= 2^(k-1) (rounding in the linear domain).
    // floor(log2 v) exactly (v >= 1 is an integer-valued float); torch's float log2 can round up right below a
    // power of two, but log_round's correction below then lands on the same k either way.
    const int e = std::ilogb(v);
    float k = static_cast<float>(e);
    if (v - pow2f(e) >= pow2f(e - 1)) k += 1.0f;  // 0 <= e < 128
    if (k >= zero_from) {
      codes[j] = lis_zero_code(p.bits);
    } else {
      codes[j] = static_cast<uint8_t>(std::min(std::max(k, 0.0f), max_code));
    }
  }
}

}  // namespace

void lis_codes(const float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p, uint8_t* codes) {
#pragma omp parallel
  {
    std::vector<float> exp_int(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) lis_row(x + r * cols, cols, logit_scale, p, exp_int.data(), codes + r * cols);
  }
}

void lis_fake_quant(float* x, int64_t rows, int64_t cols, float logit_scale, const LisParams& p) {
  const uint8_t zero = lis_zero_code(p.bits);
#pragma omp parallel
  {
    std::vector<float> exp_int(static_cast<size_t>(cols));
    std::vector<uint8_t> codes(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float* row = x + r * cols;
      lis_row(row, cols, logit_scale, p, exp_int.data(), codes.data());
      for (int64_t j = 0; j < cols; ++j) {
        const uint8_t c = codes[static_cast<size_t>(j)];
        row[j] = c == zero ? 0.0f : pow2f(-static_cast<int>(c));
      }
    }
  }
}

}  // namespace fqvit
