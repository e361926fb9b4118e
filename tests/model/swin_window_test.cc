// Swin's window machinery against closed-form expectations: torch.roll semantics, window partition / reverse, the
// official relative position index, the shifted-window mask (by what it means: tokens that the cyclic shift brought
// from opposite image borders must not attend to each other) and the patch-merging gather order.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "fqvit/model/swin_window.h"

namespace fqvit {
namespace {

std::vector<float> iota_values(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(SwinWindow, RollMatchesTorchRoll) {
  // torch.roll(torch.arange(12).view(1, 3, 4, 1), shifts=(1, 1), dims=(1, 2)).flatten()
  const std::vector<float> x = iota_values(12);
  std::vector<float> y(12);
  roll_hw(x.data(), 1, 3, 4, 1, 1, y.data());
  EXPECT_EQ(y, (std::vector<float>{11, 8, 9, 10, 3, 0, 1, 2, 7, 4, 5, 6}));
  // shifts=(-1, -1) undoes it.
  std::vector<float> back(12);
  roll_hw(y.data(), 1, 3, 4, 1, -1, back.data());
  EXPECT_EQ(back, x);
}

TEST(SwinWindow, PartitionIndexingAndRoundTrip) {
  constexpr int64_t kBatch = 2, kH = 4, kW = 6, kC = 3, kWin = 2;
  const std::vector<float> x = iota_values(kBatch * kH * kW * kC);
  std::vector<float> windows(x.size()), back(x.size());
  window_partition(x.data(), kBatch, kH, kW, kC, kWin, 0, windows.data());
  const int64_t nwx = kW / kWin, nw = (kH / kWin) * nwx;
  for (int64_t b = 0; b < kBatch; ++b) {
    for (int64_t h = 0; h < kH; ++h) {
      for (int64_t w = 0; w < kW; ++w) {
        const int64_t win = b * nw + (h / kWin) * nwx + w / kWin;
        const int64_t t = (h % kWin) * kWin + w % kWin;
        for (int64_t c = 0; c < kC; ++c) {
          ASSERT_EQ(windows[static_cast<size_t>((win * kWin * kWin + t) * kC + c)],
                    x[static_cast<size_t>(((b * kH + h) * kW + w) * kC + c)]);
        }
      }
    }
  }
  window_reverse(windows.data(), kBatch, kH, kW, kC, kWin, 0, back.data());
  EXPECT_EQ(back, x);
}

TEST(SwinWindow, ShiftedPartitionIsRollThenPartition) {
  constexpr int64_t kBatch = 2, kRes = 6, kC = 3, kWin = 3, kShift = 1;
  const std::vector<float> x = iota_values(kBatch * kRes * kRes * kC);
  std::vector<float> rolled(x.size()), expected(x.size()), fused(x.size()), back(x.size()), unrolled(x.size());
  roll_hw(x.data(), kBatch, kRes, kRes, kC, -kShift, rolled.data());
  window_partition(rolled.data(), kBatch, kRes, kRes, kC, kWin, 0, expected.data());
  window_partition(x.data(), kBatch, kRes, kRes, kC, kWin, kShift, fused.data());
  EXPECT_EQ(fused, expected);
  // Reverse with the shift = reverse, then roll back by +shift: the input again.
  window_reverse(fused.data(), kBatch, kRes, kRes, kC, kWin, kShift, back.data());
  EXPECT_EQ(back, x);
  window_reverse(expected.data(), kBatch, kRes, kRes, kC, kWin, 0, unrolled.data());
  roll_hw(unrolled.data(), kBatch, kRes, kRes, kC, kShift, back.data());
  EXPECT_EQ(back, x);
}

TEST(SwinWindow, RelativePositionIndexWindow2) {
  // The official formula worked by hand for tokens (0,0), (0,1), (1,0), (1,1):
  // index = (yi - yj + 1) * 3 + (xi - xj + 1).
  EXPECT_EQ(relative_position_index(2),
            (std::vector<int32_t>{4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4}));
}

TEST(SwinWindow, RelativePositionIndexWindow7Properties) {
  constexpr int kWin = 7, kN = kWin * kWin, kSpan = 2 * kWin - 1;
  const std::vector<int32_t> index = relative_position_index(kWin);
  ASSERT_EQ(index.size(), static_cast<size_t>(kN * kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(index[static_cast<size_t>(i * kN + i)], (kWin - 1) * kSpan + kWin - 1);  // zero offset: table centre
    for (int j = 0; j < kN; ++j) {
      // Opposite offsets sit symmetrically about the centre of the table.
      EXPECT_EQ(index[static_cast<size_t>(i * kN + j)] + index[static_cast<size_t>(j * kN + i)], kSpan * kSpan - 1);
    }
  }
  // Corner tokens use the table's first and last rows.
  EXPECT_EQ(index[static_cast<size_t>(kN - 1)], 0);               // i = (0, 0), j = (6, 6)
  EXPECT_EQ(index[static_cast<size_t>((kN - 1) * kN)], kSpan * kSpan - 1);
}

// Tokens of one shifted window may attend to each other iff the shift moved both or neither across each border.
void check_mask(int res, int win, int shift) {
  SCOPED_TRACE("res " + std::to_string(res) + " win " + std::to_string(win) + " shift " + std::to_string(shift));
  const std::vector<float> mask = shifted_window_mask(res, res, win, shift);
  const int n = win * win, nwx = res / win;
  ASSERT_EQ(mask.size(), static_cast<size_t>(nwx * nwx * n * n));
  int masked_windows = 0;
  for (int wy = 0; wy < nwx; ++wy) {
    for (int wx = 0; wx < nwx; ++wx) {
      bool any = false;
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          // Shifted coordinate r holds original (r + shift) mod res: it wrapped iff r >= res - shift.
          auto wrapped_y = [&](int t) { return wy * win + t / win >= res - shift; };
          auto wrapped_x = [&](int t) { return wx * win + t % win >= res - shift; };
          const bool together = wrapped_y(i) == wrapped_y(j) && wrapped_x(i) == wrapped_x(j);
          const float m = mask[static_cast<size_t>(((wy * nwx + wx) * n + i) * n + j)];
          ASSERT_EQ(m, together ? 0.0f : kSwinMaskValue) << "window (" << wy << ", " << wx << ") i " << i << " j " << j;
          any = any || m != 0.0f;
        }
      }
      masked_windows += any ? 1 : 0;
    }
  }
  EXPECT_EQ(masked_windows, 2 * nwx - 1);  // the last row and the last column of windows
}

TEST(SwinWindow, ShiftedMaskSmallAndSwinTStage1) {
  check_mask(4, 2, 1);
  check_mask(8, 4, 2);
  check_mask(56, 7, 3);  // Swin-T stage 0
  check_mask(14, 7, 3);
}

TEST(SwinWindow, ShiftedMaskLastWindowLiteral) {
  // 4x4 grid, window 2, shift 1: the bottom-right window holds tokens from four different regions.
  const std::vector<float> mask = shifted_window_mask(4, 4, 2, 1);
  const float* last = mask.data() + 3 * 16;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(last[i * 4 + j], i == j ? 0.0f : kSwinMaskValue);
  }
  for (int k = 0; k < 16; ++k) EXPECT_EQ(mask[static_cast<size_t>(k)], 0.0f);  // the top-left window is whole
}

TEST(SwinWindow, PatchMergeGatherOrder) {
  constexpr int64_t kBatch = 2, kH = 4, kW = 6, kC = 2;
  const std::vector<float> x = iota_values(kBatch * kH * kW * kC);
  std::vector<float> out(x.size());
  patch_merge_gather(x.data(), kBatch, kH, kW, kC, out.data());
  auto at = [&](int64_t b, int64_t h, int64_t w, int64_t c) { return x[static_cast<size_t>(((b * kH + h) * kW + w) * kC + c)]; };
  for (int64_t b = 0; b < kBatch; ++b) {
    for (int64_t r = 0; r < kH / 2; ++r) {
      for (int64_t c = 0; c < kW / 2; ++c) {
        const float* o = out.data() + ((b * (kH / 2) + r) * (kW / 2) + c) * 4 * kC;
        for (int64_t ch = 0; ch < kC; ++ch) {
          EXPECT_EQ(o[0 * kC + ch], at(b, 2 * r, 2 * c, ch));          // x0 = x[0::2, 0::2]
          EXPECT_EQ(o[1 * kC + ch], at(b, 2 * r + 1, 2 * c, ch));      // x1 = x[1::2, 0::2]
          EXPECT_EQ(o[2 * kC + ch], at(b, 2 * r, 2 * c + 1, ch));      // x2 = x[0::2, 1::2]
          EXPECT_EQ(o[3 * kC + ch], at(b, 2 * r + 1, 2 * c + 1, ch));  // x3 = x[1::2, 1::2]
        }
      }
    }
  }
}

}  // namespace
}  // namespace fqvit
