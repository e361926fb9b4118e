// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/quant/qparams.h"

#include <algorithm>
#include <cmath>

namespace fqvit {

QParams activation_qparams(float min, float max, BitType bt) {
  const float range = static_cast<float>(bt.hi() - bt.lo());
  const float scale = std::max((max - min) / range, kMinScale);
  return {scale, asymmetric_zero_point(min, scale, bt)};
}

int32_t asymmetric_zero_point(float min, float scale, BitType bt) {
  const float zp = static_cast<float>(bt.lo()) - round_half_even(min / scale);
  return static_cast<int32_t>(std::min(std::max(zp, static_cast<float>(bt.lo())), static_cast<float>(bt.hi())));
}

QParams weight_qparams(float min, float max, BitType bt) {
  // The reference divides by (hi - lo) / 2 = 127.5 at 8 bits, not by hi = 127.
  const float half_range = static_cast<float>(bt.hi() - bt.lo()) / 2.0f;
  const float absmax = std::max(-min, max);
  return {std::max(absmax / half_range, kMinScale), 0};
}

void weight_channel_scales(const float* w, int64_t out, int64_t k, BitType bt, float* scales) {
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < out; ++o) {
    const float* row = w + o * k;
    const auto [mn, mx] = std::minmax_element(row, row + k);
    scales[o] = weight_qparams(*mn, *mx, bt).scale;
  }
}

void quantize_weight(const float* w, int64_t out, int64_t k, const float* scales, BitType bt, int8_t* codes) {
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < out; ++o) {
    const QParams qp{scales[o], 0};
    for (int64_t i = 0; i < k; ++i) codes[o * k + i] = static_cast<int8_t>(quantize(w[o * k + i], qp, bt));
  }
}

}  // namespace fqvit
