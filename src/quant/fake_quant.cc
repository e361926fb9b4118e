// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/quant/fake_quant.h"

namespace fqvit {

void fake_quant_inplace(float* x, int64_t n, QParams qp, BitType bt) {
  const float zp = static_cast<float>(qp.zero_point);
  const float lo = static_cast<float>(bt.lo()), hi = static_cast<float>(bt.hi());
  const float s = qp.scale;
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    x[i] = fake_quant_value(x[i], s, zp, lo, hi);
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
