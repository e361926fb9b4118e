// pillow_resize against Pillow 9.4's Image.resize (tests/data/images/goldens.safetensors): bit-exact.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/io/pillow_resize.h"
#include "image_test_util.h"

namespace fqvit {
namespace {

using testing::golden_names;
using testing::golden_u8;

Interpolation filter_of(const std::string& name) {
  if (name.find("/bicubic/") != std::string::npos) return Interpolation::kBicubic;
  if (name.find("/bilinear/") != std::string::npos) return Interpolation::kBilinear;
  ADD_FAILURE() << "no filter in " << name;
  return Interpolation::kBicubic;
}

TEST(PillowResize, RgbMatchesPillow) {
  Shape src_shape;
  const std::vector<uint8_t> src = golden_u8("resize/source_rgb", &src_shape);
  RgbImage in;
  in.height = static_cast<int>(src_shape[0]);
  in.width = static_cast<int>(src_shape[1]);
  in.pixels = src;
  int cases = 0;
  for (const std::string& name : golden_names("resize/")) {
    if (name == "resize/source_rgb" || name == "resize/source_gray") continue;
    SCOPED_TRACE(name);
    Shape shape;
    const std::vector<uint8_t> expected = golden_u8(name, &shape);
    const RgbImage out =
        pillow_resize(in, static_cast<int>(shape[1]), static_cast<int>(shape[0]), filter_of(name));
    const int64_t at = testing::first_mismatch(out.pixels, expected);
    EXPECT_EQ(at, -1) << "first difference at pixel " << at / 3 << " channel " << at % 3;
    ++cases;
  }
  EXPECT_EQ(cases, 18);
}

TEST(PillowResize, GrayMatchesPillow) {
  Shape src_shape;
  const std::vector<uint8_t> src = golden_u8("resize/source_gray", &src_shape);
  int cases = 0;
  for (const std::string& name : golden_names("resize_gray/")) {
    SCOPED_TRACE(name);
    Shape shape;
    const std::vector<uint8_t> expected = golden_u8(name, &shape);
    const int w = static_cast<int>(shape[1]), h = static_cast<int>(shape[0]);
    std::vector<uint8_t> out(expected.size());
    pillow_resize_u8(src.data(), static_cast<int>(src_shape[1]), static_cast<int>(src_shape[0]), 1, w, h,
                     filter_of(name), ResizeWindow{0, 0, w, h}, out.data());
    EXPECT_EQ(testing::first_mismatch(out, expected), -1);
    ++cases;
  }
  EXPECT_EQ(cases, 4);
}

// A window of the resize equals the same crop of the full resize, for every pass combination.
TEST(PillowResize, WindowEqualsCropOfFullResize) {
  std::mt19937 rng(7);
  RgbImage in;
  in.width = 41;
  in.height = 29;
  in.pixels.resize(41 * 29 * 3);
  for (auto& v : in.pixels) v = static_cast<uint8_t>(rng() & 0xFF);
  const int sizes[][2] = {{41, 29}, {50, 29}, {41, 35}, {57, 44}, {13, 11}, {60, 9}, {7, 40}};
  for (const Interpolation filter : {Interpolation::kBicubic, Interpolation::kBilinear}) {
    for (const auto& size : sizes) {
      const RgbImage full = pillow_resize(in, size[0], size[1], filter);
      for (int trial = 0; trial < 20; ++trial) {
        ResizeWindow win;
        win.x0 = static_cast<int>(rng() % size[0]);
        win.y0 = static_cast<int>(rng() % size[1]);
        win.width = 1 + static_cast<int>(rng() % (size[0] - win.x0));
        win.height = 1 + static_cast<int>(rng() % (size[1] - win.y0));
        std::vector<uint8_t> out(static_cast<size_t>(win.width) * win.height * 3);
        pillow_resize_u8(in.pixels.data(), in.width, in.height, 3, size[0], size[1], filter, win, out.data());
        for (int y = 0; y < win.height; ++y) {
          for (int x = 0; x < win.width * 3; ++x) {
            ASSERT_EQ(out[(y * win.width) * 3 + x], full.row(win.y0 + y)[win.x0 * 3 + x])
                << size[0] << "x" << size[1] << " window (" << win.x0 << "," << win.y0 << ") " << win.width << "x"
                << win.height;
          }
        }
      }
    }
  }
}

TEST(PillowResize, RejectsBadArguments) {
  RgbImage in;
  in.width = 4;
  in.height = 4;
  in.pixels.assign(48, 0);
  EXPECT_THROW(pillow_resize(in, 0, 4, Interpolation::kBicubic), Error);
  std::vector<uint8_t> out(64 * 3);
  EXPECT_THROW(pillow_resize_u8(in.pixels.data(), 4, 4, 3, 8, 8, Interpolation::kBilinear, ResizeWindow{4, 4, 5, 1},
                                out.data()),
               Error);
  EXPECT_THROW(pillow_resize_u8(in.pixels.data(), 4, 4, 5, 8, 8, Interpolation::kBilinear, ResizeWindow{0, 0, 1, 1},
                                out.data()),
               Error);
}

}  // namespace
}  // namespace fqvit
