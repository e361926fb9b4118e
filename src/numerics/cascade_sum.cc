#include "fqvit/numerics/cascade_sum.h"

namespace fqvit {
namespace {

constexpr int kLanes = 8;  // AVX2 Vectorized<float>
constexpr int kIlp = 4;    // interleaved accumulators of row_sum

using Lanes = std::array<float, kLanes>;

void add_float(float& a, const float& b) { a += b; }
void add_lanes(Lanes& a, const Lanes& b) {
  for (int l = 0; l < kLanes; ++l) a[l] += b[l];
}

// row_sum: `size` items summed through multi_row_sum over size / kIlp groups, the remainder into accumulator 0.
template <typename Acc, typename Item, typename Add>
Acc row_sum(int64_t size, Item item, Add add, Acc zero) {
  const int64_t groups = size / kIlp;
  auto partial = cascade::multi_row_sum<kIlp>(groups, [&](int64_t i, int k) { return item(i * kIlp + k); }, add, zero);
  for (int64_t i = groups * kIlp; i < size; ++i) add(partial[0], item(i));
  for (int k = 1; k < kIlp; ++k) add(partial[0], partial[k]);
  return partial[0];
}

}  // namespace

float torch_sum(const float* x, int64_t n) {
  if (n < kLanes) {  // scalar_inner_sum
    return row_sum<float>(n, [&](int64_t i) { return x[i]; }, add_float, 0.0f);
  }
  const int64_t vectors = n / kLanes;
  const Lanes lanes = row_sum<Lanes>(
      vectors,
      [&](int64_t v) {
        Lanes l;
        for (int j = 0; j < kLanes; ++j) l[j] = x[v * kLanes + j];
        return l;
      },
      add_lanes, Lanes{});
  float acc = 0.0f;
  for (int64_t k = vectors * kLanes; k < n; ++k) acc += x[k];
  for (int j = 0; j < kLanes; ++j) acc += lanes[j];
  return acc;
}

float torch_strided_sum(const float* x, int64_t n, int64_t stride) {
  return cascade::multi_row_sum<1>(n, [&](int64_t i, int) { return x[i * stride]; }, add_float, 0.0f)[0];
}

}  // namespace fqvit
