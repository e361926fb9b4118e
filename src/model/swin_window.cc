#include "fqvit/model/swin_window.h"

#include <cassert>
#include <cstring>

namespace fqvit {
namespace {

void copy_row(float* dst, const float* src, int64_t channels) {
  std::memcpy(dst, src, static_cast<size_t>(channels) * sizeof(float));
}

// The official region of shifted coordinate r on an axis of length n: [0, n - win) -> 0, [n - win, n - shift) -> 1,
// [n - shift, n) -> 2.
int region(int r, int n, int window, int shift) {
  if (r < n - window) return 0;
  return r < n - shift ? 1 : 2;
}

}  // namespace

void roll_hw(const float* x, int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t shift, float* y) {
  assert(x != y);
  const int64_t sh = ((shift % height) + height) % height;
  const int64_t sw = ((shift % width) + width) % width;
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < height; ++h) {
      const int64_t dh = (h + sh) % height;
      for (int64_t w = 0; w < width; ++w) {
        const int64_t dw = (w + sw) % width;
        copy_row(y + ((b * height + dh) * width + dw) * channels, x + ((b * height + h) * width + w) * channels,
                 channels);
      }
    }
  }
}

void window_partition(const float* x, int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t window,
                      int64_t shift, float* windows) {
  assert(height % window == 0 && width % window == 0);
  const int64_t nwx = width / window;
  const int64_t sh = ((shift % height) + height) % height;
  const int64_t sw = ((shift % width) + width) % width;
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < height; ++h) {  // h, w: coordinates on the shifted grid
      const int64_t wy = h / window, ty = h % window, src_h = (h + sh) % height;
      for (int64_t w = 0; w < width; ++w) {
        const int64_t wx = w / window, tx = w % window, src_w = (w + sw) % width;
        const int64_t win = (b * (height / window) + wy) * nwx + wx;
        copy_row(windows + (win * window * window + ty * window + tx) * channels,
                 x + ((b * height + src_h) * width + src_w) * channels, channels);
      }
    }
  }
}

void window_reverse(const float* windows, int64_t batch, int64_t height, int64_t width, int64_t channels,
                    int64_t window, int64_t shift, float* x) {
  assert(height % window == 0 && width % window == 0);
  const int64_t nwx = width / window;
  const int64_t sh = ((shift % height) + height) % height;
  const int64_t sw = ((shift % width) + width) % width;
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < height; ++h) {
      const int64_t wy = h / window, ty = h % window, dst_h = (h + sh) % height;
      for (int64_t w = 0; w < width; ++w) {
        const int64_t wx = w / window, tx = w % window, dst_w = (w + sw) % width;
        const int64_t win = (b * (height / window) + wy) * nwx + wx;
        copy_row(x + ((b * height + dst_h) * width + dst_w) * channels,
                 windows + (win * window * window + ty * window + tx) * channels, channels);
      }
    }
  }
}

std::vector<int32_t> relative_position_index(int window) {
  const int n = window * window;
  const int span = 2 * window - 1;
  std::vector<int32_t> index(static_cast<size_t>(n) * static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const int dy = i / window - j / window + window - 1;
      const int dx = i % window - j % window + window - 1;
      index[static_cast<size_t>(i * n + j)] = dy * span + dx;
    }
  }
  return index;
}

std::vector<float> shifted_window_mask(int height, int width, int window, int shift) {
  assert(height > window && width > window && window > shift && shift > 0);
  assert(height % window == 0 && width % window == 0);
  const int n = window * window;
  const int nwy = height / window, nwx = width / window;
  std::vector<float> mask(static_cast<size_t>(nwy * nwx) * static_cast<size_t>(n * n));
  std::vector<int> label(static_cast<size_t>(n));
  for (int wy = 0; wy < nwy; ++wy) {
    for (int wx = 0; wx < nwx; ++wx) {
      for (int t = 0; t < n; ++t) {
        const int h = wy * window + t / window, w = wx * window + t % window;
        label[static_cast<size_t>(t)] = 3 * region(h, height, window, shift) + region(w, width, window, shift);
      }
      float* m = mask.data() + static_cast<size_t>(wy * nwx + wx) * static_cast<size_t>(n * n);
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          m[i * n + j] = label[static_cast<size_t>(i)] == label[static_cast<size_t>(j)] ? 0.0f : kSwinMaskValue;
        }
      }
    }
  }
  return mask;
}

void patch_merge_gather(const float* x, int64_t batch, int64_t height, int64_t width, int64_t channels, float* out) {
  assert(height % 2 == 0 && width % 2 == 0);
  const int64_t oh = height / 2, ow = width / 2;
  // (row offset, column offset) of the k-th slice in the concat: x0 = x[0::2, 0::2], x1 = x[1::2, 0::2], ...
  constexpr int64_t kOffsets[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < oh; ++r) {
      for (int64_t c = 0; c < ow; ++c) {
        float* dst = out + ((b * oh + r) * ow + c) * 4 * channels;
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t h = 2 * r + kOffsets[k][0], w = 2 * c + kOffsets[k][1];
          copy_row(dst + k * channels, x + ((b * height + h) * width + w) * channels, channels);
        }
      }
    }
  }
}

}  // namespace fqvit
