// The index maps of the Swin lowering against the float graph's own window machinery (model/swin_window.h, which
// mirrors the official code and is itself tested against it): the gathers of codes through the maps must move every
// value exactly where window_partition / window_reverse / the patch-merging gather move it, and the region labels
// must give the official shifted-window mask.
#include <gtest/gtest.h>

#include <numeric>

#include "fqvit/kernels/swin_ops.h"
#include "fqvit/model/swin_window.h"
#include "lower/lower_swin.h"

namespace fqvit {
namespace {

struct Grid {
  int64_t res, window, shift;
};

// A distinct value per element (< 2^24, exact in float), so that every moved element is traced.
std::vector<float> ramp(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

// Applies a row map to row ids [in_rows][cols] and returns the moved ids (uint8 gathers of every byte plane).
std::vector<float> gather_ids(const RowGatherParams& p, const std::vector<float>& ids) {
  const int64_t n_out = p.out_rows * p.group * p.cols;
  std::vector<float> out(static_cast<size_t>(n_out), -1.0f);
  // gather_rows_ref moves bytes: run it on each of the three low bytes of the ids and reassemble.
  for (int plane = 0; plane < 3; ++plane) {
    std::vector<uint8_t> in(ids.size()), moved(static_cast<size_t>(n_out));
    for (size_t i = 0; i < ids.size(); ++i) in[i] = static_cast<uint8_t>(static_cast<int64_t>(ids[i]) >> (8 * plane));
    gather_rows_ref(p, in.data(), moved.data());
    for (size_t i = 0; i < moved.size(); ++i) {
      const float base = plane == 0 ? 0.0f : out[i];
      out[i] = base + static_cast<float>(int64_t{moved[i]} << (8 * plane));
    }
  }
  return out;
}

class SwinMaps : public ::testing::TestWithParam<Grid> {};
class SwinShiftedMaps : public ::testing::TestWithParam<Grid> {};

TEST_P(SwinMaps, PartitionAndReverseMoveRowsAsTheFloatGraph) {
  const Grid g = GetParam();
  constexpr int64_t kCols = 3;
  const std::vector<float> ids = ramp(g.res * g.res * kCols);
  const RowGatherParams to_windows = lower::swin_partition_map(g.res, g.window, g.shift, kCols);
  std::vector<float> want(ids.size());
  window_partition(ids.data(), 1, g.res, g.res, kCols, g.window, g.shift, want.data());
  const std::vector<float> windows = gather_ids(to_windows, ids);
  EXPECT_EQ(windows, want);

  const RowGatherParams to_grid = lower::swin_reverse_map(to_windows);
  std::vector<float> back(ids.size());
  window_reverse(want.data(), 1, g.res, g.res, kCols, g.window, g.shift, back.data());
  EXPECT_EQ(back, ids);
  EXPECT_EQ(gather_ids(to_grid, windows), ids);
}

TEST_P(SwinShiftedMaps, RegionLabelsGiveTheOfficialMask) {
  const Grid g = GetParam();
  const std::vector<float> mask = shifted_window_mask(static_cast<int>(g.res), static_cast<int>(g.res),
                                                      static_cast<int>(g.window), static_cast<int>(g.shift));
  const std::vector<uint8_t> labels = lower::swin_regions(g.res, g.window, g.shift);
  const int64_t n = g.window * g.window, windows = (g.res / g.window) * (g.res / g.window);
  ASSERT_EQ(static_cast<int64_t>(labels.size()), windows * n);
  int64_t masked = 0;
  for (int64_t w = 0; w < windows; ++w) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const bool different = labels[static_cast<size_t>(w * n + i)] != labels[static_cast<size_t>(w * n + j)];
        const float m = mask[static_cast<size_t>((w * n + i) * n + j)];
        EXPECT_EQ(different, m == kSwinMaskValue) << "window " << w << " i " << i << " j " << j;
        EXPECT_TRUE(m == 0.0f || m == kSwinMaskValue);
        masked += different;
      }
    }
  }
  EXPECT_GT(masked, 0);
}

INSTANTIATE_TEST_SUITE_P(Grids, SwinMaps,
                         ::testing::Values(Grid{16, 4, 0}, Grid{16, 4, 2}, Grid{8, 4, 2}, Grid{56, 7, 3},
                                           Grid{14, 7, 3}, Grid{12, 6, 3}, Grid{7, 7, 0}));
INSTANTIATE_TEST_SUITE_P(Grids, SwinShiftedMaps,
                         ::testing::Values(Grid{16, 4, 2}, Grid{8, 4, 2}, Grid{56, 7, 3}, Grid{14, 7, 3},
                                           Grid{12, 6, 3}));

TEST(SwinMergeMap, GathersTwoByTwoNeighboursAsTheFloatGraph) {
  for (int64_t res : {2, 4, 8, 56}) {
    constexpr int64_t kCols = 5;
    const std::vector<float> ids = ramp(res * res * kCols);
    std::vector<float> want(ids.size());
    patch_merge_gather(ids.data(), 1, res, res, kCols, want.data());
    EXPECT_EQ(gather_ids(lower::swin_merge_map(res, kCols), ids), want) << res;
  }
}

}  // namespace
}  // namespace fqvit
