// Float emulation of the reference: every float32 operation rounds on its own, as in torch (no FMA contraction).
#pragma GCC optimize("fp-contract=off")
#include "fqvit/quant/ptf.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace fqvit {

float PtfParams::channel_scale(int64_t c) const {
  return scale1 * static_cast<float>(1u << alpha[static_cast<size_t>(c)]);
}

std::vector<float> PtfParams::channel_scales() const {
  std::vector<float> s(alpha.size());
  for (size_t c = 0; c < s.size(); ++c) s[c] = channel_scale(static_cast<int64_t>(c));
  return s;
}

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
      const float s = scales[static_cast<size_t>(c)], zp = zps[static_cast<size_t>(c)];
      const float q = std::min(std::max(std::rint(row[c] / s + zp), lo), hi);
      row[c] = (q - zp) * s;
    }
  }
}

}  // namespace fqvit
