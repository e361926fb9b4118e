// Swin's window machinery on row-major token grids [B, H, W, C] (token (h, w) of image b is row (b*H + h)*W + w):
// cyclic shift, window partition / reverse, the relative position index, the shifted-window attention mask and
// the 2x2 patch-merging gather. Each mirrors one piece of microsoft/Swin-Transformer's models/swin_transformer.py
// (which FQ-ViT's models/swin_quant.py copies); the comments name it.
#pragma once

#include <cstdint>
#include <vector>

namespace fqvit {

// torch.roll(x, shifts=(shift, shift), dims=(1, 2)): y[b, (h + shift) mod H, (w + shift) mod W] = x[b, h, w].
// `shift` may be negative. y must not alias x. The graph fuses the roll into window_partition / window_reverse;
// this is their reference.
void roll_hw(const float* x, int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t shift, float* y);

// window_partition after the cyclic shift torch.roll(x, shifts=(-shift, -shift), dims=(1, 2)), in one pass:
// windows[(b*nW + wy*(W/win) + wx)*win*win + ty*win + tx, c] = x[b, (wy*win + ty + shift) mod H,
// (wx*win + tx + shift) mod W, c], nW = (H/win) * (W/win). H and W must be multiples of win; shift may be 0.
void window_partition(const float* x, int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t window,
                      int64_t shift, float* windows);

// window_reverse, then the reverse cyclic shift torch.roll(.., shifts=(shift, shift)): the inverse of
// window_partition with the same shift.
void window_reverse(const float* windows, int64_t batch, int64_t height, int64_t width, int64_t channels,
                    int64_t window, int64_t shift, float* x);

// WindowAttention.relative_position_index for a win x win window, row-major [win^2, win^2]: for tokens
// i = (yi, xi) and j = (yj, xj), index = (yi - yj + win - 1) * (2 win - 1) + (xi - xj + win - 1), a row of
// relative_position_bias_table [(2 win - 1)^2, heads].
std::vector<int32_t> relative_position_index(int window);

// SwinTransformerBlock.attn_mask for a shifted block: [nW, win^2, win^2], 0 where tokens i and j of a window share
// a region of the official labelling (slices [0, -win), [-win, -shift), [-shift, end) on each axis of the shifted
// grid, label = 3 * row_region + col_region), -100 elsewhere. Requires H, W > win > shift > 0.
std::vector<float> shifted_window_mask(int height, int width, int window, int shift);
constexpr float kSwinMaskValue = -100.0f;  // the official masked_fill value (not -inf)

// PatchMerging's gather: out[b, r*(W/2) + c, k*C + ch] with k = 0: x[2r, 2c], 1: x[2r+1, 2c], 2: x[2r, 2c+1],
// 3: x[2r+1, 2c+1] (torch.cat([x0, x1, x2, x3], -1)). H and W must be even.
void patch_merge_gather(const float* x, int64_t batch, int64_t height, int64_t width, int64_t channels, float* out);

}  // namespace fqvit
