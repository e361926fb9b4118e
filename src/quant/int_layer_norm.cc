// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/quant/int_layer_norm.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "fqvit/numerics/cascade_sum.h"
#include "fqvit/quant/rounding.h"

namespace fqvit {

namespace {
__extension__ typedef __int128 Int128;  // C * S2 - S1^2 of the wide LayerNorm needs more than 64 bits
}  // namespace

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

void int_layer_norm_wide(const float* x, int64_t rows, int64_t channels, const float* in_scale, int64_t in_scales,
                         const float* out_scale_of, int64_t out_scales, const float* gamma, const float* beta,
                         float* y) {
  const float s_min = *std::min_element(in_scale, in_scale + in_scales);
  std::vector<int> shift(static_cast<size_t>(in_scales));  // alpha_c - alpha_min
  for (int64_t i = 0; i < in_scales; ++i) {
    shift[static_cast<size_t>(i)] = static_cast<int>(std::lround(std::log2(static_cast<double>(in_scale[i] / s_min))));
  }
  const auto c_i = static_cast<Int128>(channels);
  const double c_d = static_cast<double>(channels);
#pragma omp parallel
  {
    std::vector<int64_t> xq(static_cast<size_t>(channels));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * channels;
      float* yr = y + r * channels;
      int64_t s1 = 0, s2 = 0;
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t k = c % in_scales;
        const int64_t code = static_cast<int64_t>(std::llrint(xr[c] / in_scale[k]));
        const int64_t v = code * (int64_t{1} << shift[static_cast<size_t>(k)]);
        assert(v < (int64_t{1} << 26) && v > -(int64_t{1} << 26));
        xq[static_cast<size_t>(c)] = v;
        s1 += v;
        s2 += v * v;
      }
      const Int128 var_num = c_i * s2 - static_cast<Int128>(s1) * s1;  // C^2 var / s_min^2, >= 0
      if (var_num <= 0) {
        for (int64_t c = 0; c < channels; ++c) {
          const float out_scale = out_scale_of[c % out_scales];
          yr[c] = round_half_even(beta[c] / out_scale) * out_scale;
        }
        continue;
      }
      const double std_dev = static_cast<double>(s_min) / c_d * std::sqrt(static_cast<double>(var_num));
      const double mean = static_cast<double>(s1) / c_d * static_cast<double>(s_min);
      for (int64_t c = 0; c < channels; ++c) {
        const float out_scale = out_scale_of[c % out_scales];
        const double a = static_cast<double>(s_min) * gamma[c] / (std_dev * out_scale);
        const double abs_a = std::fabs(a);
        if (abs_a == 0.0) {
          yr[c] = round_half_even(beta[c] / out_scale) * out_scale;
          continue;
        }
        const int n = std::min(std::max(15 - static_cast<int>(std::floor(std::log2(abs_a))), 0), 40);
        const double two_n = std::ldexp(1.0, n);
        const auto m = static_cast<int64_t>(std::floor(abs_a * two_n));
        const auto b = static_cast<int64_t>(std::nearbyint((beta[c] - mean / std_dev * gamma[c]) / out_scale * two_n));
        const int64_t v = (a < 0 ? -m : m) * xq[static_cast<size_t>(c)] + b;
        const int64_t code = n == 0 ? v : (v + (int64_t{1} << (n - 1))) >> n;
        yr[c] = static_cast<float>(code) * out_scale;
      }
    }
  }
}

}  // namespace fqvit
