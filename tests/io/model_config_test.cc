#include "fqvit/io/model_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

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

// Sizes are bounded before anything is allocated from them (an input_size of 20000 was an uncaught bad_alloc).
TEST(ModelConfig, SizesAreBoundedBeforeUse) {
  std::string e =
      error_of(R"({"architecture": "vit_tiny_patch16_224", "pretrained_cfg": {"input_size": [3, 20000, 20000]}})");
  EXPECT_NE(e.find("config.json: pretrained_cfg.input_size: found [3,20000,20000], expected [3, S, S] with "
                   "0 < S <= 4096"), std::string::npos) << e;
  e = error_of(R"({"architecture": "vit_tiny_patch16_224", "pretrained_cfg": {"input_size": [1, 224, 224]}})");
  EXPECT_NE(e.find("pretrained_cfg.input_size: found [1,224,224]"), std::string::npos) << e;
  e = error_of(R"({"architecture": "vit_tiny_patch16_224", "pretrained_cfg": {"crop_pct": 1e-9}})");
  EXPECT_NE(e.find("pretrained_cfg.crop_pct: found 1e-09, expected a number in [0.25, 1]"), std::string::npos) << e;
  e = error_of(R"({"architecture": "swin_tiny_patch4_window7_224", "model_args": {"img_size": 100000}})");
  EXPECT_NE(e.find("model_args.img_size: found 100000, expected at most 4096"), std::string::npos) << e;
  e = error_of(R"({"architecture": "vit_tiny_patch16_224", "model_args": {"norm_eps": "small"}})");
  EXPECT_NE(e.find("model_args.norm_eps: found \"small\", expected a number in (0, 1]"), std::string::npos) << e;
}

TEST(ModelConfig, ConfigMustBeARegularFile) {
  const std::string dir = testing::scratch_dir("config_type");
  std::filesystem::create_directories(dir + "/as_dir/config.json");
  std::string e;
  try {
    load_model_config(dir + "/as_dir");
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("as_dir/config.json: file type: found a directory, expected a regular file"), std::string::npos)
      << e;
  std::filesystem::create_directories(dir + "/as_fifo");
  ASSERT_EQ(::mkfifo((dir + "/as_fifo/config.json").c_str(), 0600), 0);
  e.clear();
  try {
    load_model_config(dir + "/as_fifo");  // must not wait for a writer
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("as_fifo/config.json: file type: found not a regular file"), std::string::npos) << e;
}

}  // namespace
}  // namespace fqvit
