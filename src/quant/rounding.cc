// Float emulation of the reference: every float32 operation rounds on its own, as in torch (no FMA contraction).
#pragma GCC optimize("fp-contract=off")
#include "fqvit/quant/rounding.h"

#include <algorithm>
#include <array>
#include <bit>

namespace fqvit {
namespace {

constexpr int kLanes = 8;      // AVX2 Vectorized<float>
constexpr int kIlp = 4;        // interleaved accumulators of row_sum
constexpr int kLevels = 4;     // cascade levels of multi_row_sum

using Lanes = std::array<float, kLanes>;

int64_t ceil_log2(int64_t x) {
  if (x <= 2) return 1;
  return static_cast<int64_t>(std::bit_width(static_cast<uint64_t>(x) - 1));
}

// multi_row_sum: kIlp interleaved accumulators over `size` groups; element (group i, accumulator k) is load(i, k).
// Accumulators are cascaded in kLevels levels so that long rows lose little precision.
template <typename Acc, typename Load>
std::array<Acc, kIlp> multi_row_sum(int64_t size, Load load, Acc zero) {
  const int64_t level_power = std::max<int64_t>(4, ceil_log2(size) / kLevels);
  const int64_t level_step = int64_t{1} << level_power;
  const int64_t level_mask = level_step - 1;
  Acc acc[kLevels][kIlp];
  for (auto& level : acc) std::fill(std::begin(level), std::end(level), zero);
  auto add = [](Acc& a, const Acc& b) {
    if constexpr (std::is_same_v<Acc, float>) {
      a += b;
    } else {
      for (int l = 0; l < kLanes; ++l) a[l] += b[l];
    }
  };
  int64_t i = 0;
  while (i + level_step <= size) {
    for (int64_t j = 0; j < level_step; ++j, ++i) {
      for (int k = 0; k < kIlp; ++k) add(acc[0][k], load(i, k));
    }
    for (int j = 1; j < kLevels; ++j) {
      for (int k = 0; k < kIlp; ++k) {
        add(acc[j][k], acc[j - 1][k]);
        acc[j - 1][k] = zero;
      }
      if ((i & (level_mask << (j * level_power))) != 0) break;
    }
  }
  for (; i < size; ++i) {
    for (int k = 0; k < kIlp; ++k) add(acc[0][k], load(i, k));
  }
  for (int j = 1; j < kLevels; ++j) {
    for (int k = 0; k < kIlp; ++k) add(acc[0][k], acc[j][k]);
  }
  std::array<Acc, kIlp> out;
  for (int k = 0; k < kIlp; ++k) out[k] = acc[0][k];
  return out;
}

// row_sum: `size` items summed through multi_row_sum over size / kIlp groups, the remainder into accumulator 0.
template <typename Acc, typename Item>
Acc row_sum(int64_t size, Item item, Acc zero) {
  const int64_t groups = size / kIlp;
  auto partial = multi_row_sum<Acc>(groups, [&](int64_t i, int k) { return item(i * kIlp + k); }, zero);
  auto add = [](Acc& a, const Acc& b) {
    if constexpr (std::is_same_v<Acc, float>) {
      a += b;
    } else {
      for (int l = 0; l < kLanes; ++l) a[l] += b[l];
    }
  };
  for (int64_t i = groups * kIlp; i < size; ++i) add(partial[0], item(i));
  for (int k = 1; k < kIlp; ++k) add(partial[0], partial[k]);
  return partial[0];
}

}  // namespace

float torch_sum(const float* x, int64_t n) {
  if (n < kLanes) {  // scalar_inner_sum
    return row_sum<float>(n, [&](int64_t i) { return x[i]; }, 0.0f);
  }
  const int64_t vectors = n / kLanes;
  Lanes zero{};
  const Lanes lanes = row_sum<Lanes>(
      vectors,
      [&](int64_t v) {
        Lanes l;
        for (int j = 0; j < kLanes; ++j) l[j] = x[v * kLanes + j];
        return l;
      },
      zero);
  float acc = 0.0f;
  for (int64_t k = vectors * kLanes; k < n; ++k) acc += x[k];
  for (int j = 0; j < kLanes; ++j) acc += lanes[j];
  return acc;
}

}  // namespace fqvit
