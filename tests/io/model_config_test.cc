#include "fqvit/io/model_config.h"

#include <gtest/gtest.h>

#include "fqvit/core/error.h"
#include "test_paths.h"

namespace fqvit {
namespace {

std::string error_of(const std::string& json) {
  try {
    parse_model_config(json, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, ReadsTheRealViTTinyConfig) {
  FQVIT_REQUIRE_SHARED(shared);
  const ModelConfig c = load_model_config(shared + "/models/vit_tiny_patch16_224");
  EXPECT_EQ(c.architecture, "vit_tiny_patch16_224");
  EXPECT_EQ(c.family, ModelFamily::kVit);
  EXPECT_EQ(c.embed_dim, 192);
  EXPECT_EQ(c.depth, 12);
  EXPECT_EQ(c.num_heads, 3);
  EXPECT_FALSE(c.quantize_input);  // FQ-ViT's vit_* setting
  EXPECT_EQ(c.preprocess.resize_shorter(), 248);  // floor(224 / 0.9)
  EXPECT_EQ(c.preprocess.mean[0], 0.5f);
  EXPECT_EQ(c.preprocess.interpolation, Interpolation::kBicubic);
}

TEST(ModelConfig, KnownTableAndModelArgs) {
  const ModelConfig deit = parse_model_config(R"({"architecture": "deit_small_distilled_patch16_224.fb_in1k"})", "c");
  EXPECT_EQ(deit.architecture, "deit_small_distilled_patch16_224");
  EXPECT_TRUE(deit.distilled);
  EXPECT_EQ(deit.num_heads, 6);
  EXPECT_TRUE(deit.quantize_input);
  EXPECT_EQ(deit.preprocess.resize_shorter(), 256);  // crop_pct 0.875 by default

  const ModelConfig swin = parse_model_config(
      R"({"architecture": "swin_micro", "num_classes": 10, "model_args": {"img_size": 32, "patch_size": 2,
          "embed_dim": 32, "depths": [2, 2], "num_heads": [2, 4], "window_size": 4},
          "pretrained_cfg": {"input_size": [3, 32, 32], "crop_pct": 1.0, "interpolation": "bilinear"}})",
      "c");
  EXPECT_EQ(swin.family, ModelFamily::kSwin);
  EXPECT_EQ(swin.depths, (std::vector<int>{2, 2}));
  EXPECT_EQ(swin.stage_heads, (std::vector<int>{2, 4}));
  EXPECT_EQ(swin.window_size, 4);
  EXPECT_EQ(swin.norm_eps, 1e-5f);
  EXPECT_EQ(swin.preprocess.resize_shorter(), 32);
  EXPECT_EQ(swin.preprocess.interpolation, Interpolation::kBilinear);
}

TEST(ModelConfig, BadInputNamesFieldFoundAndExpected) {
  std::string e = error_of(R"({"architecture": "resnet50"})");
  EXPECT_NE(e.find("config.json: architecture: found \"resnet50\", expected a vit_*, deit_* or swin_*"),
            std::string::npos) << e;
  e = error_of(R"({"architecture": "vit_custom"})");
  EXPECT_NE(e.find("model_args.num_heads"), std::string::npos) << e;
  e = error_of(R"({"architecture": "vit_tiny_patch16_224", "pretrained_cfg": {"crop_pct": 1.5}})");
  EXPECT_NE(e.find("pretrained_cfg.crop_pct: found 1.5"), std::string::npos) << e;
  e = error_of(R"({"architecture": "vit_tiny_patch16_224", "pretrained_cfg": {"interpolation": "lanczos"}})");
  EXPECT_NE(e.find("found \"lanczos\""), std::string::npos) << e;
  e = error_of("{not json");
  EXPECT_NE(e.find("malformed"), std::string::npos) << e;
  e = error_of(R"({"architecture": "swin_x", "model_args": {"depths": [2, 2], "num_heads": [2]}})");
  EXPECT_NE(e.find("1 stages, expected 2 stages"), std::string::npos) << e;
}

}  // namespace
}  // namespace fqvit
