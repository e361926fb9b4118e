// Float emulation of the reference: every float32 operation rounds on its own, as in torch (no FMA contraction).
#pragma GCC optimize("fp-contract=off")
#include "fqvit/quant/qparams.h"

#include <algorithm>
#include <cmath>

namespace fqvit {

void fake_quant_inplace(float* x, int64_t n, QParams qp, BitType bt) {
  const float zp = static_cast<float>(qp.zero_point);
  const float lo = static_cast<float>(bt.lo()), hi = static_cast<float>(bt.hi());
  const float s = qp.scale;
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    float q = std::rint(x[i] / s + zp);
    q = std::min(std::max(q, lo), hi);
    x[i] = (q - zp) * s;
  }
}

QParams activation_qparams(float min, float max, BitType bt) {
  const float range = static_cast<float>(bt.hi() - bt.lo());
  const float scale = std::max((max - min) / range, kMinScale);
  const float zp = static_cast<float>(bt.lo()) - round_half_even(min / scale);
  const float clamped = std::min(std::max(zp, static_cast<float>(bt.lo())), static_cast<float>(bt.hi()));
  return {scale, static_cast<int32_t>(clamped)};
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

void fake_quant_weight(float* w, int64_t out, int64_t k, const float* scales, BitType bt) {
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < out; ++o) {
    const QParams qp{scales[o], 0};
    for (int64_t i = 0; i < k; ++i) w[o * k + i] = fake_quant(w[o * k + i], qp, bt);
  }
}

}  // namespace fqvit
