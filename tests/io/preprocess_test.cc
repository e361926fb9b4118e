// The eval transform against (1) the committed cases made with Pillow + torchvision's rules
// (tests/io/make_image_goldens.py) and (2) the reference's own preprocessed inputs of 8 val images.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "fqvit/core/error.h"
#include "fqvit/io/preprocess.h"
#include "fqvit/io/safetensors.h"
#include "image_test_util.h"
#include "test_paths.h"

namespace fqvit {
namespace {

// Acceptance bound for the reference inputs: >= 99% identical and nothing off by more than one 8-bit level
// (1/255 / std = 1/255/0.5 in normalized units). Expected and observed: 100% identical.
constexpr double kMinExactFraction = 0.99;
constexpr float kOneLevel = 1.0f / 255.0f / 0.5f;

TEST(EvalGeometry, FollowsTorchvision) {
  PreprocessConfig c;
  c.input_size = 224;
  c.crop_pct = 0.9;
  EXPECT_EQ(c.resize_shorter(), 248);
  EvalGeometry g = eval_geometry(227, 227, c);  // the val images: upscaled
  EXPECT_EQ(g.resized_width, 248);
  EXPECT_EQ(g.resized_height, 248);
  EXPECT_EQ(g.crop_left, 12);
  EXPECT_EQ(g.crop_top, 12);
  g = eval_geometry(500, 375, c);  // 248 * 500 / 375 = 330.67 -> 330; (330 - 224) / 2 = 53
  EXPECT_EQ(g.resized_width, 330);
  EXPECT_EQ(g.resized_height, 248);
  EXPECT_EQ(g.crop_left, 53);
  EXPECT_EQ(g.crop_top, 12);
  g = eval_geometry(320, 427, c);  // portrait: 248 * 427 / 320 = 330.93 -> 330
  EXPECT_EQ(g.resized_width, 248);
  EXPECT_EQ(g.resized_height, 330);
  g = eval_geometry(320, 481, c);  // 248 * 481 / 320 = 372.775 -> 372; (372 - 224) / 2 = 74
  EXPECT_EQ(g.crop_top, 74);
  g = eval_geometry(320, 482, c);  // 373.55 -> 373; 74.5 rounds half to even -> 74
  EXPECT_EQ(g.resized_height, 373);
  EXPECT_EQ(g.crop_top, 74);
  g = eval_geometry(320, 484, c);  // 375.1 -> 375; 75.5 -> 76
  EXPECT_EQ(g.crop_top, 76);
  c.crop_pct = 1.25;  // resize 179 < crop 224: zero padding of (224 - 179) // 2 = 22 on the left/top
  g = eval_geometry(300, 200, c);
  EXPECT_EQ(g.resized_height, 179);
  EXPECT_EQ(g.resized_width, 268);
  EXPECT_EQ(g.crop_top, -22);
  EXPECT_EQ(g.crop_left, 22);
  EXPECT_THROW(eval_geometry(0, 10, c), Error);
}

TEST(Preprocess, MatchesPillowTorchvisionCases) {
  const auto& goldens = testing::image_goldens();
  const auto cases = nlohmann::json::parse(goldens.metadata().at("preprocess"));
  ASSERT_GE(cases.size(), 8u);
  for (const auto& [name, spec] : cases.items()) {
    SCOPED_TRACE(name);
    PreprocessConfig c;
    c.input_size = spec.at("input_size").get<int>();
    c.crop_pct = spec.at("crop_pct").get<double>();
    c.interpolation = spec.at("interpolation") == "bilinear" ? Interpolation::kBilinear : Interpolation::kBicubic;
    for (int i = 0; i < 3; ++i) {
      c.mean[i] = static_cast<float>(spec.at("mean")[i].get<double>());
      c.std[i] = static_cast<float>(spec.at("std")[i].get<double>());
    }
    const int s = c.input_size;
    const Tensor expected = goldens.load_float("preprocess/" + name, {3, s, s});
    const Tensor got = load_preprocessed(testing::image_data_dir() + "/" + spec.at("file").get<std::string>(), c);
    ASSERT_EQ(got.shape(), expected.shape());
    int64_t mismatches = 0;
    for (int64_t i = 0; i < got.numel(); ++i) mismatches += got[i] != expected[i];
    EXPECT_EQ(mismatches, 0);
  }
}

// The reference's preprocessed inputs (PIL decode + torchvision Resize(248, BICUBIC) + CenterCrop(224) + ToTensor +
// Normalize(0.5, 0.5)) of the first 8 dev images.
TEST(Preprocess, MatchesReferenceGoldenInputs) {
  FQVIT_REQUIRE_SHARED(shared);
  const auto golden = SafetensorsFile::open(shared + "/reference/golden_vit_tiny.safetensors");
  const Tensor input = golden.load_float("input", {8, 3, 224, 224});
  const auto images = nlohmann::json::parse(golden.metadata().at("images"));
  ASSERT_EQ(images.size(), 8u);
  PreprocessConfig c;  // ViT-Tiny's pretrained_cfg
  c.input_size = 224;
  c.crop_pct = 0.9;
  c.interpolation = Interpolation::kBicubic;
  c.mean = {0.5f, 0.5f, 0.5f};
  c.std = {0.5f, 0.5f, 0.5f};
  const int64_t per_image = 3 * 224 * 224;
  int64_t exact = 0;
  float max_diff = 0.0f;
  const auto start = std::chrono::steady_clock::now();
  for (size_t b = 0; b < images.size(); ++b) {
    const Tensor got = load_preprocessed(shared + "/imagenet/val/" + images[b].get<std::string>(), c);
    const float* ref = input.data() + static_cast<int64_t>(b) * per_image;
    int64_t image_exact = 0;
    for (int64_t i = 0; i < per_image; ++i) {
      image_exact += got[i] == ref[i];
      max_diff = std::max(max_diff, std::fabs(got[i] - ref[i]));
    }
    exact += image_exact;
    EXPECT_EQ(image_exact, per_image) << images[b];
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(images.size());
  const double fraction = static_cast<double>(exact) / (per_image * 8);
  std::printf("reference inputs: %.4f%% of values identical, max |diff| %.3g, %.2f ms per image\n", 100.0 * fraction,
              static_cast<double>(max_diff), ms);
  EXPECT_GE(fraction, kMinExactFraction);
  EXPECT_LE(max_diff, kOneLevel * 1.0001f);
}

}  // namespace
}  // namespace fqvit
