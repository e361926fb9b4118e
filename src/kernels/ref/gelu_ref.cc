// GELU on fc1 accumulators by threshold tables (include/fqvit/kernels/int_ops.h).
#include <cstddef>
#include <algorithm>

#include "fqvit/kernels/int_ops.h"

namespace fqvit {

void gelu_ref(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out) {
  constexpr int32_t kHLimit = int32_t{1} << 30;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < p.channels; ++c) {
      const int32_t h = requantize(acc[r * p.channels + c], p.to_h[static_cast<std::size_t>(c)], 0, -kHLimit, kHLimit);
      int64_t steps;
      if (h >= p.h_argmin) {
        steps = std::upper_bound(p.rise.begin(), p.rise.end(), h) - p.rise.begin();
      } else {
        steps = p.fall.end() - std::lower_bound(p.fall.begin(), p.fall.end(), h);
      }
      out[r * p.channels + c] = static_cast<uint8_t>(p.code_at_argmin + steps);
    }
  }
}

}  // namespace fqvit
