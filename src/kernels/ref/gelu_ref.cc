// GELU on fc1 accumulators by threshold tables (include/fqvit/kernels/int_ops.h): the code of h is
// code_at_argmin plus the number of steps passed; the bucket table turns the count into a lookup and a compare.
#include <algorithm>
#include <cstddef>

#include "fqvit/kernels/int_ops.h"

namespace fqvit {
namespace {

constexpr int64_t kMaxBuckets = int64_t{1} << 16;

// The definition: #{fall >= h} + #{rise <= h} (both tables ascending).
int32_t steps_at(const GeluParams& p, int32_t h) {
  const auto fall = p.fall.end() - std::lower_bound(p.fall.begin(), p.fall.end(), h);
  const auto rise = std::upper_bound(p.rise.begin(), p.rise.end(), h) - p.rise.begin();
  return static_cast<int32_t>(fall + rise);
}

}  // namespace

void build_gelu_buckets(GeluParams& p) {
  p.bucket_code.clear(), p.bucket_step.clear(), p.bucket_delta.clear(), p.bucket_packed.clear();
  // Step positions: leaving fall[j] (h = fall[j] + 1) takes one away, reaching rise[j] adds one.
  std::vector<int64_t> steps;
  for (int32_t f : p.fall) steps.push_back(int64_t{f} + 1);
  for (int32_t r : p.rise) steps.push_back(r);
  std::sort(steps.begin(), steps.end());
  if (steps.empty()) return;
  int64_t gap = int64_t{1} << 40;
  for (size_t i = 1; i < steps.size(); ++i) gap = std::min(gap, steps[i] - steps[i - 1]);
  if (gap < 1) return;  // two steps at one h: keep the search
  int shift = 0;
  while ((int64_t{2} << shift) <= gap) ++shift;  // 2^shift <= gap: at most one step per bucket
  const int64_t origin = steps.front() - 1, span = steps.back() - origin + 1;
  const int64_t buckets = ((span - 1) >> shift) + 1;
  if (buckets > kMaxBuckets) return;
  p.bucket_origin = static_cast<int32_t>(origin);
  p.bucket_shift = shift;
  p.bucket_code.resize(static_cast<size_t>(buckets));
  p.bucket_step.assign(static_cast<size_t>(buckets), INT32_MAX);
  p.bucket_delta.assign(static_cast<size_t>(buckets), 0);
  for (int64_t b = 0; b < buckets; ++b) {
    const auto start = static_cast<int32_t>(origin + (b << shift));
    p.bucket_code[static_cast<size_t>(b)] = static_cast<uint8_t>(p.code_at_argmin + steps_at(p, start));
  }
  for (int64_t s : steps) {
    const auto b = static_cast<size_t>((s - origin) >> shift);
    if (s == origin + (static_cast<int64_t>(b) << shift)) continue;  // a step at the bucket's start is in its code
    p.bucket_step[b] = static_cast<int32_t>(s);
    p.bucket_delta[b] = static_cast<int8_t>(p.code_at_argmin + steps_at(p, static_cast<int32_t>(s)) -
                                            p.bucket_code[b]);
  }
  if (shift > kGeluPackedMaxShift) return;
  p.bucket_packed.resize(static_cast<size_t>(buckets));
  for (int64_t b = 0; b < buckets; ++b) {
    const auto i = static_cast<size_t>(b);
    const int64_t offset =
        p.bucket_step[i] == INT32_MAX ? int64_t{1} << shift : p.bucket_step[i] - (origin + (b << shift));
    p.bucket_packed[i] = p.bucket_code[i] | static_cast<uint32_t>(p.bucket_delta[i] + 1) << 8 |
                         static_cast<uint32_t>(offset) << 10;
  }
}

void gelu_ref(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out) {
  constexpr int32_t kHLimit = int32_t{1} << 30;
  const auto buckets = static_cast<int64_t>(p.bucket_code.size());
  const int64_t h_lo = p.bucket_origin, h_hi = p.bucket_origin + (buckets << p.bucket_shift) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < p.channels; ++c) {
      const auto ci = static_cast<std::size_t>(c);
      const int32_t a = acc[r * p.channels + c];
      const int32_t h = p.to_h_rounding_offset.empty()
                            ? requantize(a, p.to_h[ci], 0, -kHLimit, kHLimit)
                            : requantize(a, p.to_h[ci], p.to_h_rounding_offset[ci], 0, -kHLimit, kHLimit);
      int32_t code;
      if (buckets == 0) {
        code = p.code_at_argmin + steps_at(p, h);
      } else {
        // Outside [h_lo, h_hi] the code is that of the nearest end: no step lies beyond.
        const int64_t hc = std::clamp<int64_t>(h, h_lo, h_hi);
        const auto b = static_cast<std::size_t>((hc - h_lo) >> p.bucket_shift);
        code = p.bucket_code[b] + (hc >= p.bucket_step[b] ? p.bucket_delta[b] : 0);
      }
      out[r * p.channels + c] = static_cast<uint8_t>(code);
    }
  }
}

}  // namespace fqvit
