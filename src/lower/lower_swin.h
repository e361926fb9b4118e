// The index maps and labels of the Swin lowering (src/lower/lower_swin.cc; its entry is in lower_models.h).
#pragma once

#include <cstdint>
#include <vector>

#include "fqvit/kernels/swin_ops.h"

namespace fqvit::lower {

// The index maps and labels the lowering builds (tested against model/swin_window.h), on a res x res grid:
// torch.roll by -shift then window_partition (rows in window order, group 1);
RowGatherParams swin_partition_map(int64_t res, int64_t window, int64_t shift, int64_t cols);
// its inverse (window_reverse then the roll by +shift);
RowGatherParams swin_reverse_map(const RowGatherParams& partition);
// patch merging's 2x2 gather (group 4, rows of the half-size grid);
RowGatherParams swin_merge_map(int64_t res, int64_t cols);
// the shift mask's region label of every token of every window, [nW][win^2] (tokens i and j of a window attend to
// each other exactly when their labels are equal).
std::vector<uint8_t> swin_regions(int64_t res, int64_t window, int64_t shift);

}  // namespace fqvit::lower
