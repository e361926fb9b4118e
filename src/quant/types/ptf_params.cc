#include "fqvit/quant/ptf_params.h"

namespace fqvit {

float PtfParams::channel_scale(int64_t c) const {
  return scale1 * static_cast<float>(1u << alpha[static_cast<size_t>(c)]);
}

std::vector<float> PtfParams::channel_scales() const {
  std::vector<float> s(alpha.size());
  for (size_t c = 0; c < s.size(); ++c) s[c] = channel_scale(static_cast<int64_t>(c));
  return s;
}

}  // namespace fqvit
