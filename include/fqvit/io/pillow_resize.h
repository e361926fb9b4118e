// Pillow's Image.resize for 8-bit images (libImaging/Resample.c, Pillow 9.4), bit-exact:
// - separable: a horizontal pass (only if the width changes) into rows [first, last) that the vertical pass needs,
//   then a vertical pass (only if the height changes); each pass rounds to 8 bits;
// - filter support scaled by the downscale factor (antialiasing): support = filter_support * max(in/out, 1);
//   for output i: center = (i + 0.5) * in/out, taps [int(center - support + 0.5), int(center + support + 0.5))
//   clipped to the image, weights filter((j - center + 0.5) / max(in/out, 1)) normalized to sum 1 in double;
// - weights become int32 with 22 fraction bits (PRECISION_BITS = 32 - 8 - 2), rounded half away from zero;
//   out = clamp((2^21 + sum(pixel * weight)) >> 22, 0, 255) (Pillow's clip8);
// - bicubic is Keys' cubic with a = -0.5, support 2; bilinear is the triangle, support 1.
// Same size in and out is a copy. The double-precision weight arithmetic is compiled without FMA contraction so
// that it rounds exactly as Pillow's (plain SSE2) build does.
#pragma once

#include <cstdint>

#include "fqvit/io/image.h"
#include "fqvit/io/model_config.h"

namespace fqvit {

RgbImage pillow_resize(const RgbImage& in, int out_width, int out_height, Interpolation filter);

// The pixels of an output window [x0, x0 + w) x [y0, y0 + h) of the out_width x out_height resize, computing only
// those: bit-identical to cropping pillow_resize's result (each output pixel depends only on its own weights).
// The window must lie inside the output. `out` receives w * h pixels of `channels` bytes, rows packed.
struct ResizeWindow {
  int x0 = 0, y0 = 0, width = 0, height = 0;
};
void pillow_resize_u8(const uint8_t* in, int in_width, int in_height, int channels, int out_width, int out_height,
                      Interpolation filter, const ResizeWindow& window, uint8_t* out);

}  // namespace fqvit
