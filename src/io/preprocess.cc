#include "fqvit/io/preprocess.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/io/pillow_resize.h"

namespace fqvit {
namespace {

// torchvision center_crop's offset on an axis of `size` pixels for a crop of `crop`: int(round((size - crop) / 2.0))
// with Python's round (half to even), or, when the crop is larger, minus the zero padding added before it:
// (crop - size) // 2 on the left/top.
int crop_offset(int size, int crop) {
  if (crop > size) return -((crop - size) / 2);
  return static_cast<int>(std::nearbyint((size - crop) / 2.0));  // default rounding mode: half to even
}

}  // namespace

EvalGeometry eval_geometry(int width, int height, const PreprocessConfig& config) {
  const int shorter = config.resize_shorter();
  if (width <= 0 || height <= 0 || shorter <= 0 || config.input_size <= 0) {
    fail("eval transform",
         "image " + std::to_string(width) + "x" + std::to_string(height) + ", resize " + std::to_string(shorter) +
             ", crop " + std::to_string(config.input_size) + ": every size must be positive");
  }
  // torchvision _compute_resized_output_size: short, long = (w, h) if w <= h else (h, w);
  // new_long = int(size * long / short), a double division truncated.
  const bool portrait = width <= height;
  const int short_side = portrait ? width : height;
  const int long_side = portrait ? height : width;
  const int new_long = static_cast<int>(static_cast<double>(static_cast<int64_t>(shorter) * long_side) / short_side);
  EvalGeometry g;
  g.resized_width = portrait ? shorter : new_long;
  g.resized_height = portrait ? new_long : shorter;
  g.crop_size = config.input_size;
  g.crop_left = crop_offset(g.resized_width, g.crop_size);
  g.crop_top = crop_offset(g.resized_height, g.crop_size);
  return g;
}

RgbImage resize_and_crop(const RgbImage& image, const PreprocessConfig& config) {
  const EvalGeometry g = eval_geometry(image.width, image.height, config);
  const int s = g.crop_size;
  RgbImage out;
  out.width = s;
  out.height = s;
  out.pixels.assign(static_cast<size_t>(s) * s * 3, 0);  // zero padding where the crop exceeds the image
  // The part of the crop inside the resized image.
  const int x0 = std::max(g.crop_left, 0);
  const int y0 = std::max(g.crop_top, 0);
  const int x1 = std::min(g.crop_left + s, g.resized_width);
  const int y1 = std::min(g.crop_top + s, g.resized_height);
  if (x1 <= x0 || y1 <= y0) return out;
  const ResizeWindow window{x0, y0, x1 - x0, y1 - y0};
  const bool full_rows = window.width == s;
  std::vector<uint8_t> temp;
  uint8_t* dst = out.row(y0 - g.crop_top);
  if (!full_rows) {
    temp.resize(static_cast<size_t>(window.width) * window.height * 3);
    dst = temp.data();
  }
  pillow_resize_u8(image.pixels.data(), image.width, image.height, 3, g.resized_width, g.resized_height,
                   config.interpolation, window, dst);
  if (!full_rows) {
    const size_t row_bytes = static_cast<size_t>(window.width) * 3;
    for (int y = 0; y < window.height; ++y) {
      std::copy_n(temp.data() + y * row_bytes, row_bytes, out.row(y0 - g.crop_top + y) + (x0 - g.crop_left) * 3);
    }
  }
  return out;
}

void normalize_rgb(const uint8_t* rgb, int64_t pixels, const PreprocessConfig& config, float* out) {
  // ToTensor + Normalize as torch computes them in float32: (float(v) / 255 - mean) / std, true divisions.
  std::array<std::array<float, 256>, 3> table;
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(v) / 255.0f;
      table[c][v] = (x - config.mean[c]) / config.std[c];
    }
  }
  const uint8_t* p = rgb;
  for (int64_t i = 0; i < pixels; ++i, p += 3) {
    out[i] = table[0][p[0]];
    out[pixels + i] = table[1][p[1]];
    out[2 * pixels + i] = table[2][p[2]];
  }
}

void preprocess_image(const RgbImage& image, const PreprocessConfig& config, float* out) {
  const RgbImage crop = resize_and_crop(image, config);
  normalize_rgb(crop.pixels.data(), static_cast<int64_t>(crop.width) * crop.height, config, out);
}

Tensor load_preprocessed(const std::string& path, const PreprocessConfig& config) {
  const RgbImage image = decode_image_file(path);
  Tensor out({3, config.input_size, config.input_size});
  preprocess_image(image, config, out.data());
  return out;
}

}  // namespace fqvit
