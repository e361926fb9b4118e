// The timm / torchvision 0.14 eval transform on a PIL RGB image, as the reference ran it:
//   Resize(resize_shorter, interpolation)  shorter side -> s, longer -> int(s * long / short) (double, truncated);
//                                          skipped when the size is unchanged; Pillow's resampling (pillow_resize.h)
//   CenterCrop(input_size)                 top = int(round((h - S) / 2.0)) with Python's round (half to even), same
//                                          for left; a crop larger than the image is first zero-padded by
//                                          ((S - w) // 2, (S - h) // 2) on the left/top and the rest right/bottom
//   ToTensor()                             float32(v) / 255.0f, a true float32 division as torch's div(255)
//   Normalize(mean, std)                   (x - mean[c]) / std[c] in float32
// into a CHW float32 [3, S, S] buffer. Only the cropped window of the resize is computed.
#pragma once

#include <cstdint>
#include <string>

#include "fqvit/core/tensor.h"
#include "fqvit/io/image.h"
#include "fqvit/io/model_config.h"

namespace fqvit {

struct EvalGeometry {
  int resized_width = 0;   // after Resize
  int resized_height = 0;
  int crop_left = 0;       // top-left of the S x S crop in resized coordinates; negative on a zero-padded axis
  int crop_top = 0;
  int crop_size = 0;       // S
};

// The geometry of the eval transform for a width x height image. Throws Error for non-positive sizes.
EvalGeometry eval_geometry(int width, int height, const PreprocessConfig& config);

// The S x S RGB crop (resized, cropped, zero-padded where the crop exceeds the image), before ToTensor.
RgbImage resize_and_crop(const RgbImage& image, const PreprocessConfig& config);

// ToTensor + Normalize alone: `pixels` interleaved RGB pixels (an image already resized and cropped) -> 3 planes of
// `pixels` floats, CHW.
void normalize_rgb(const uint8_t* rgb, int64_t pixels, const PreprocessConfig& config, float* out);

// Writes 3 * S * S floats, CHW.
void preprocess_image(const RgbImage& image, const PreprocessConfig& config, float* out);

// decode_image_file + preprocess_image -> Tensor [3, S, S]. Throws Error naming the file.
Tensor load_preprocessed(const std::string& path, const PreprocessConfig& config);

}  // namespace fqvit
