// GELU on fc1 accumulators by threshold tables (include/fqvit/kernels/int_ops.h). The code of h is the number of
// thresholds passed; a bucket table over h gives where to start counting, so the scan is a step or two.
#include <algorithm>
#include <cstddef>

#include "fqvit/kernels/int_ops.h"

namespace fqvit {
namespace {

constexpr int64_t kMaxBuckets = 4096;

// Count of rise thresholds <= h, and of fall thresholds >= h: plain binary searches (the definition).
int64_t rise_steps(const GeluParams& p, int32_t h) {
  return std::upper_bound(p.rise.begin(), p.rise.end(), h) - p.rise.begin();
}
int64_t fall_steps(const GeluParams& p, int32_t h) {
  return p.fall.end() - std::lower_bound(p.fall.begin(), p.fall.end(), h);
}

}  // namespace

void build_gelu_buckets(GeluParams& p) {
  const int64_t lo = p.fall.empty() ? p.h_argmin : std::min<int64_t>(p.fall.front(), p.h_argmin);
  const int64_t hi = p.rise.empty() ? p.h_argmin : std::max<int64_t>(p.rise.back(), p.h_argmin);
  int shift = 0;
  while (((hi - lo) >> shift) >= kMaxBuckets) ++shift;
  p.bucket_origin = static_cast<int32_t>(lo);
  p.bucket_shift = shift;
  const int64_t buckets = ((hi - lo) >> shift) + 1;
  p.rise_start.assign(static_cast<std::size_t>(buckets), 0);
  p.fall_start.assign(static_cast<std::size_t>(buckets), 0);
  for (int64_t i = 0; i < buckets; ++i) {
    const int64_t start = lo + (i << shift);
    // Right branch: thresholds <= the bucket's first h; left branch: index of the first threshold >= its first h.
    p.rise_start[static_cast<std::size_t>(i)] = static_cast<uint16_t>(rise_steps(p, static_cast<int32_t>(start)));
    p.fall_start[static_cast<std::size_t>(i)] = static_cast<uint16_t>(
        std::lower_bound(p.fall.begin(), p.fall.end(), static_cast<int32_t>(start)) - p.fall.begin());
  }
}

void gelu_ref(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out) {
  constexpr int32_t kHLimit = int32_t{1} << 30;
  const auto rise_n = static_cast<int64_t>(p.rise.size()), fall_n = static_cast<int64_t>(p.fall.size());
  const int64_t last_bucket = static_cast<int64_t>(p.rise_start.size()) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < p.channels; ++c) {
      const int32_t h = requantize(acc[r * p.channels + c], p.to_h[static_cast<std::size_t>(c)], 0, -kHLimit, kHLimit);
      int64_t steps;
      if (last_bucket < 0) {  // no accelerator: the definition
        steps = h >= p.h_argmin ? rise_steps(p, h) : fall_steps(p, h);
      } else if (h >= p.h_argmin) {
        const int64_t b = std::min<int64_t>((int64_t{h} - p.bucket_origin) >> p.bucket_shift, last_bucket);
        steps = p.rise_start[static_cast<std::size_t>(b)];
        while (steps < rise_n && p.rise[static_cast<std::size_t>(steps)] <= h) ++steps;
      } else {
        const int64_t rel = int64_t{h} - p.bucket_origin;
        int64_t i = rel < 0 ? 0 : p.fall_start[static_cast<std::size_t>(rel >> p.bucket_shift)];
        while (i < fall_n && p.fall[static_cast<std::size_t>(i)] < h) ++i;  // first threshold >= h
        steps = fall_n - i;
      }
      out[r * p.channels + c] = static_cast<uint8_t>(p.code_at_argmin + steps);
    }
  }
}

}  // namespace fqvit
