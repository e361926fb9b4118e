// PyTorch 1.13's float32 summation order on CPU (ATen SumKernel.cpp), written once: torch_sum (a contiguous row,
// the reference's integer-LayerNorm statistics and Log-Int-Softmax denominators) and mean_over_tokens (a strided
// column, Swin's average pool) both run multi_row_sum. Sums of values that are not exactly representable depend on
// the order; reproducing it keeps those results equal to the reference's to the last bit.
//
// No contraction: every a + b rounds on its own, as torch's (the numerics sources build with -ffp-contract=off).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace fqvit {

namespace cascade {

constexpr int kLevels = 4;  // cascade levels of multi_row_sum

// utils::CeilLog2: 1 for x <= 2 (the cascade always has a level 0), else ceil(log2 x).
inline int64_t ceil_log2(int64_t x) {
  if (x <= 2) return 1;
  return static_cast<int64_t>(std::bit_width(static_cast<uint64_t>(x) - 1));
}

// multi_row_sum: `ilp` interleaved accumulators over `size` rows; element (row i, accumulator k) is load(i, k), and
// add(a, b) performs a += b. level_step = 2^max(4, ceil(log2 size) / 4) rows are summed into level 0, which is added
// into level 1 and cleared; level j spills into level j + 1 every level_step runs; the tail goes into level 0 and
// the levels are added into level 0 last.
template <int kIlp, typename Acc, typename Load, typename Add>
std::array<Acc, kIlp> multi_row_sum(int64_t size, Load load, Add add, Acc zero) {
  const int64_t level_power = std::max<int64_t>(4, ceil_log2(size) / kLevels);
  const int64_t level_step = int64_t{1} << level_power;
  const int64_t level_mask = level_step - 1;
  Acc acc[kLevels][kIlp];
  for (auto& level : acc) std::fill(std::begin(level), std::end(level), zero);
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

}  // namespace cascade

// torch.sum(x[0..n)) in float32 with PyTorch 1.13's AVX2 order (SumKernel "vectorized_inner_sum": 8-lane vectors,
// 4 interleaved vector accumulators through multi_row_sum, scalar tail first, then the 8 lanes in order).
float torch_sum(const float* x, int64_t n);

// sum over t of x[t * stride] for t in [0, n), as torch's multi_row_sum reduces a non-contiguous axis (one
// accumulator per output element).
float torch_strided_sum(const float* x, int64_t n, int64_t stride);

}  // namespace fqvit
