// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/quant/int_layer_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fqvit/numerics/cascade_sum.h"
#include "fqvit/quant/rounding.h"

namespace fqvit {

void int_layer_norm_reference(const float* x, int64_t rows, int64_t channels, const float* in_scale,
                              int64_t in_scales, float out_scale, const float* gamma, const float* beta, float* y) {
  const float s_min = *std::min_element(in_scale, in_scale + in_scales);
  std::vector<float> shift_factor(static_cast<size_t>(in_scales));  // 2^(alpha_c - alpha_min) for PTF
  for (int64_t i = 0; i < in_scales; ++i) shift_factor[static_cast<size_t>(i)] = round_half_even(in_scale[i] / s_min);
  const float c_f = static_cast<float>(channels);

#pragma omp parallel
  {
    std::vector<float> xq(static_cast<size_t>(channels)), sq(static_cast<size_t>(channels));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * channels;
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t k = c % in_scales;
        const float v = round_half_even(xr[c] / in_scale[k]) * shift_factor[static_cast<size_t>(k)];
        xq[static_cast<size_t>(c)] = v;
        sq[static_cast<size_t>(c)] = v * v;
      }
      const float sum = torch_sum(xq.data(), channels);
      const float sum_sq = torch_sum(sq.data(), channels);
      const float mean = (sum / c_f) * s_min;
      const float std_dev = (s_min / c_f) * std::sqrt(c_f * sum_sq - sum * sum);
      const float inv = s_min / std_dev;
      const float mean_over_std = mean / std_dev;
      float* yr = y + r * channels;
      for (int64_t c = 0; c < channels; ++c) {
        const float a = (inv * gamma[c]) / out_scale;
        const float sign = a > 0.0f ? 1.0f : (a < 0.0f ? -1.0f : 0.0f);
        const float abs_a = std::fabs(a);
        // get_MN with 8-bit M: N = clamp(7 - floor(log2 |A|), 0, 31), M = clamp(floor(|A| 2^N), 0, 255).
        const float n = std::min(std::max(7.0f - std::floor(std::log2(abs_a)), 0.0f), 31.0f);
        const float two_n = std::exp2(n);
        const float m = std::min(std::max(std::floor(abs_a * two_n), 0.0f), 255.0f);
        const float b = round_half_even((beta[c] - mean_over_std * gamma[c]) / out_scale * two_n);
        yr[c] = round_half_even((sign * m * xq[static_cast<size_t>(c)] + b) / two_n) * out_scale;
      }
    }
  }
}

}  // namespace fqvit
