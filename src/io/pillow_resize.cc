// Pillow 9.4 libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc,
// ImagingResampleVertical_8bpc, ImagingResampleInner) for 8-bit pixels, restricted to an output window.

// The weights are computed in double exactly as Pillow's C does; a fused multiply-add would round differently
// (Pillow's x86-64 build has no FMA), so this file builds with -ffp-contract=off (CMakeLists.txt).

#include "fqvit/io/pillow_resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS: 8-bit result, 2 bits of overshoot headroom
constexpr int32_t kRoundHalf = 1 << (kPrecisionBits - 1);

double bicubic_filter(double x) {
  // Keys' cubic convolution, a = -0.5, written as Pillow writes it (the expression order fixes the rounding).
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

// The weights of one axis for output indices [first, first + count) of an in_size -> out_size resize.
struct AxisWeights {
  int taps = 0;                  // Pillow's ksize: the stride of `weights`
  std::vector<int32_t> start;    // first input index of each output
  std::vector<int32_t> length;   // number of inputs of each output (<= taps)
  std::vector<int32_t> weights;  // Q22 fixed point, `taps` per output (zero beyond `length`)
};

template <double (*Filter)(double)>
AxisWeights compute_weights(int in_size, int out_size, double filter_support, int first, int count) {
  // precompute_coeffs with box (in0, in1) = (0, in_size): Pillow takes in0/in1 as float.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_support * filterscale;
  const int taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  AxisWeights w;
  w.taps = taps;
  w.start.resize(count);
  w.length.resize(count);
  w.weights.assign(static_cast<size_t>(count) * taps, 0);
  std::vector<double> k(taps);
  for (int i = 0; i < count; ++i) {
    const int xx = first + i;
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // C's truncation, as Pillow ("Round the value")
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double v = Filter((x + xmin - center + 0.5) * ss);
      k[x] = v;
      ww += v;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    // normalize_coeffs_8bpc: to Q22, rounding half away from zero.
    int32_t* out = w.weights.data() + static_cast<size_t>(i) * taps;
    for (int x = 0; x < xmax; ++x) {
      out[x] = k[x] < 0 ? static_cast<int32_t>(-0.5 + k[x] * (1 << kPrecisionBits))
                        : static_cast<int32_t>(0.5 + k[x] * (1 << kPrecisionBits));
    }
    w.start[i] = xmin;
    w.length[i] = xmax;
  }
  return w;
}

AxisWeights axis_weights(Interpolation filter, int in_size, int out_size, int first, int count) {
  switch (filter) {
    case Interpolation::kBicubic:
      return compute_weights<bicubic_filter>(in_size, out_size, 2.0, first, count);
    case Interpolation::kBilinear:
      return compute_weights<bilinear_filter>(in_size, out_size, 1.0, first, count);
  }
  return {};
}

// Pillow's clip8: the accumulator already holds the +2^21 rounding term; >> is arithmetic (as in Pillow's build).
inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass over `rows` rows of `src` (row stride src_stride bytes), output `w.start.size()` pixels per row.
template <int C>
void horizontal_pass(const uint8_t* src, size_t src_stride, int rows, const AxisWeights& w, uint8_t* dst) {
  const int out_w = static_cast<int>(w.start.size());
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in_row = src + static_cast<size_t>(y) * src_stride;
    uint8_t* out_row = dst + static_cast<size_t>(y) * out_w * C;
    for (int x = 0; x < out_w; ++x) {
      const int32_t* k = w.weights.data() + static_cast<size_t>(x) * w.taps;
      const uint8_t* p = in_row + static_cast<size_t>(w.start[x]) * C;
      const int n = w.length[x];
      int32_t acc[C];
      for (int c = 0; c < C; ++c) acc[c] = kRoundHalf;
      for (int t = 0; t < n; ++t) {
        for (int c = 0; c < C; ++c) acc[c] += static_cast<int32_t>(p[t * C + c]) * k[t];
      }
      for (int c = 0; c < C; ++c) out_row[x * C + c] = clip8(acc[c]);
    }
  }
}

void horizontal_pass(int channels, const uint8_t* src, size_t src_stride, int rows, const AxisWeights& w,
                     uint8_t* dst) {
  switch (channels) {
    case 1: return horizontal_pass<1>(src, src_stride, rows, w, dst);
    case 2: return horizontal_pass<2>(src, src_stride, rows, w, dst);
    case 3: return horizontal_pass<3>(src, src_stride, rows, w, dst);
    case 4: return horizontal_pass<4>(src, src_stride, rows, w, dst);
    default: break;
  }
}

// Vertical pass: output row i sums rows start[i] - row_offset ... of `src` (stride src_stride bytes), each row
// `row_bytes` bytes wide. Channels are independent, so a row is just row_bytes samples.
void vertical_pass(const uint8_t* src, size_t src_stride, int row_offset, size_t row_bytes, const AxisWeights& w,
                   uint8_t* dst) {
  const int out_h = static_cast<int>(w.start.size());
  std::vector<int32_t> acc(row_bytes);
  for (int y = 0; y < out_h; ++y) {
    const int32_t* k = w.weights.data() + static_cast<size_t>(y) * w.taps;
    std::fill(acc.begin(), acc.end(), kRoundHalf);
    int32_t* a = acc.data();
    for (int t = 0; t < w.length[y]; ++t) {
      const uint8_t* in_row = src + static_cast<size_t>(w.start[y] - row_offset + t) * src_stride;
      const int32_t kt = k[t];
      for (size_t e = 0; e < row_bytes; ++e) a[e] += static_cast<int32_t>(in_row[e]) * kt;
    }
    uint8_t* out_row = dst + static_cast<size_t>(y) * row_bytes;
    for (size_t e = 0; e < row_bytes; ++e) out_row[e] = clip8(a[e]);
  }
}

}  // namespace

void pillow_resize_u8(const uint8_t* in, int in_width, int in_height, int channels, int out_width, int out_height,
                      Interpolation filter, const ResizeWindow& window, uint8_t* out) {
  if (in_width <= 0 || in_height <= 0 || out_width <= 0 || out_height <= 0 || channels < 1 || channels > 4 ||
      window.x0 < 0 || window.y0 < 0 || window.width < 0 || window.height < 0 ||
      window.x0 + window.width > out_width || window.y0 + window.height > out_height) {
    fail("pillow_resize",
         "bad arguments: in " + std::to_string(in_width) + "x" + std::to_string(in_height) + "x" +
             std::to_string(channels) + ", out " + std::to_string(out_width) + "x" + std::to_string(out_height) +
             ", window (" + std::to_string(window.x0) + ", " + std::to_string(window.y0) + ") " +
             std::to_string(window.width) + "x" + std::to_string(window.height));
  }
  if (window.width == 0 || window.height == 0) return;
  const size_t in_stride = static_cast<size_t>(in_width) * channels;
  const size_t out_row_bytes = static_cast<size_t>(window.width) * channels;
  const bool need_horizontal = out_width != in_width;
  const bool need_vertical = out_height != in_height;

  AxisWeights vert;
  int first_row = window.y0;                  // input rows the vertical pass reads: [first_row, last_row)
  int last_row = window.y0 + window.height;   // (the window's own rows when there is no vertical pass)
  if (need_vertical) {
    vert = axis_weights(filter, in_height, out_height, window.y0, window.height);
    first_row = vert.start.front();
    last_row = first_row;
    for (int i = 0; i < window.height; ++i) last_row = std::max(last_row, vert.start[i] + vert.length[i]);
  }

  // Source of the vertical pass: the horizontally resampled rows, or the input columns of the window.
  std::vector<uint8_t> temp;
  const uint8_t* mid = nullptr;
  size_t mid_stride = 0;
  if (need_horizontal) {
    const AxisWeights horiz = axis_weights(filter, in_width, out_width, window.x0, window.width);
    const int rows = last_row - first_row;
    uint8_t* dst = out;
    if (need_vertical) {
      temp.resize(static_cast<size_t>(rows) * out_row_bytes);
      dst = temp.data();
    }
    horizontal_pass(channels, in + static_cast<size_t>(first_row) * in_stride, in_stride, rows, horiz, dst);
    if (!need_vertical) return;
    mid = temp.data();
    mid_stride = out_row_bytes;
  } else {
    mid = in + static_cast<size_t>(first_row) * in_stride + static_cast<size_t>(window.x0) * channels;
    mid_stride = in_stride;
  }

  if (need_vertical) {
    vertical_pass(mid, mid_stride, first_row, out_row_bytes, vert, out);
  } else {  // same size on both axes: a copy of the window
    for (int y = 0; y < window.height; ++y) {
      std::memcpy(out + static_cast<size_t>(y) * out_row_bytes, mid + static_cast<size_t>(y) * mid_stride,
                  out_row_bytes);
    }
  }
}

RgbImage pillow_resize(const RgbImage& in, int out_width, int out_height, Interpolation filter) {
  RgbImage out;
  out.width = out_width;
  out.height = out_height;
  out.pixels.resize(static_cast<size_t>(std::max(out_width, 0)) * std::max(out_height, 0) * 3);
  pillow_resize_u8(in.pixels.data(), in.width, in.height, 3, out_width, out_height, filter,
                   ResizeWindow{0, 0, out_width, out_height}, out.pixels.data());
  return out;
}

}  // namespace fqvit
