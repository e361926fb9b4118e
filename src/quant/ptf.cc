// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/quant/ptf.h"

#include <cassert>

namespace fqvit {

void ptf_fake_quant(float* x, int64_t rows, int64_t channels, const PtfParams& p) {
  assert(static_cast<int64_t>(p.alpha.size()) == channels);
  const std::vector<float> scales = p.channel_scales();
  std::vector<float> zps(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) zps[static_cast<size_t>(c)] = static_cast<float>(p.channel_zero_point(c));
  const float lo = static_cast<float>(p.bit_type.lo()), hi = static_cast<float>(p.bit_type.hi());
#pragma omp parallel for schedule(static) if (rows * channels > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      row[c] = fake_quant_value(row[c], scales[static_cast<size_t>(c)], zps[static_cast<size_t>(c)], lo, hi);
    }
  }
}

}  // namespace fqvit
