// A checkpoint that is missing a tensor, has a misshapen one, or disagrees with its config is refused with one line
// naming the file, the tensor, the value found and the value expected.
#include <gtest/gtest.h>

#include <limits>

#include "fqvit/core/error.h"
#include "fqvit/model/vision_model.h"
#include "test_paths.h"
#include "tiny_vit_checkpoint.h"

namespace fqvit {
namespace {

std::string load_error(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(VitLoadErrors, TinyCheckpointLoadsAndRuns) {
  const std::string dir = testing::scratch_dir("vit_ok");
  testing::TinyVitSpec spec;
  testing::write_checkpoint(dir, testing::tiny_vit_tensors(spec), testing::tiny_vit_config(spec));
  const auto model = load_model(dir);
  Tensor images({3, 3, 32, 32}, 0.25f);
  const Tensor logits = model->forward(images);
  EXPECT_EQ(logits.shape(), (Shape{3, 5}));
  // The same image gives the same logits in every batch position, up to GEMM blocking (row tails may take another
  // kernel, as in any BLAS).
  constexpr float kBatchPositionTolerance = 1e-5f;
  for (int c = 0; c < 5; ++c) EXPECT_NEAR(logits[c], logits[2 * 5 + c], kBatchPositionTolerance);
}

TEST(VitLoadErrors, MissingTensor) {
  const std::string dir = testing::scratch_dir("vit_missing");
  testing::TinyVitSpec spec;
  auto tensors = testing::tiny_vit_tensors(spec);
  tensors.erase("blocks.1.mlp.fc2.bias");
  testing::write_checkpoint(dir, tensors, testing::tiny_vit_config(spec));
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("model.safetensors: tensor blocks.1.mlp.fc2.bias: found nothing"), std::string::npos) << e;
}

TEST(VitLoadErrors, MisshapenTensor) {
  const std::string dir = testing::scratch_dir("vit_misshapen");
  testing::TinyVitSpec spec;
  auto tensors = testing::tiny_vit_tensors(spec);
  tensors["blocks.0.attn.proj.weight"] = Tensor({16, 15});
  testing::write_checkpoint(dir, tensors, testing::tiny_vit_config(spec));
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("blocks.0.attn.proj.weight.shape: found [16, 15], expected [16, 16]"), std::string::npos) << e;
}

TEST(VitLoadErrors, DepthDisagreesWithConfig) {
  const std::string dir = testing::scratch_dir("vit_depth");
  testing::TinyVitSpec spec;
  auto config_spec = spec;
  config_spec.depth = 3;
  testing::write_checkpoint(dir, testing::tiny_vit_tensors(spec), testing::tiny_vit_config(config_spec));
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("blocks: found 2 blocks, expected 3"), std::string::npos) << e;
}

TEST(VitLoadErrors, HeadsMustDivideEmbedding) {
  const std::string dir = testing::scratch_dir("vit_heads");
  testing::TinyVitSpec spec;
  auto config_spec = spec;
  config_spec.heads = 3;
  testing::write_checkpoint(dir, testing::tiny_vit_tensors(spec), testing::tiny_vit_config(config_spec));
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("embed_dim: found 16, expected a multiple of num_heads 3"), std::string::npos) << e;
}

TEST(VitLoadErrors, UnknownArchitecture) {
  const std::string dir = testing::scratch_dir("vit_arch");
  testing::TinyVitSpec spec;
  testing::write_checkpoint(dir, testing::tiny_vit_tensors(spec), testing::tiny_vit_config(spec, "convnext_tiny"));
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("config.json: architecture: found \"convnext_tiny\""), std::string::npos) << e;
}

// A crop of another size than the checkpoint's pos_embed was a heap overflow (16) or silent garbage (36, 64).
TEST(VitLoadErrors, InputSizeMustMatchTheCheckpoint) {
  testing::TinyVitSpec spec;  // img 32
  const std::string good = testing::tiny_vit_config(spec);
  for (const char* size : {"16", "36", "64"}) {
    const std::string dir = testing::scratch_dir(std::string("vit_input_size_") + size);
    std::string config = good;
    const std::string from = "\"input_size\": [3, 32, 32]";
    config.replace(config.find(from), from.size(),
                   std::string("\"input_size\": [3, ") + size + ", " + size + "]");
    testing::write_checkpoint(dir, testing::tiny_vit_tensors(spec), config);
    const std::string e = load_error(dir);
    EXPECT_NE(e.find(dir + "/config.json: pretrained_cfg.input_size: found [3, " + size + ", " + size +
                     "], expected [3, 32, 32] (the checkpoint's pos_embed"), std::string::npos) << e;
  }
}

TEST(VitLoadErrors, NonFiniteTensorIsNamed) {
  testing::TinyVitSpec spec;
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    const std::string dir = testing::scratch_dir("vit_nonfinite");
    auto tensors = testing::tiny_vit_tensors(spec);
    tensors["blocks.1.attn.qkv.weight"][7] = bad;
    testing::write_checkpoint(dir, tensors, testing::tiny_vit_config(spec));
    const std::string e = load_error(dir);
    EXPECT_NE(e.find("model.safetensors: blocks.1.attn.qkv.weight: found value "), std::string::npos) << e;
    EXPECT_NE(e.find(" at flat index 7, expected finite numbers (no NaN or inf)"), std::string::npos) << e;
  }
}

TEST(VitLoadErrors, MissingDirectoryAndFiles) {
  EXPECT_NE(load_error("/nonexistent/ckpt").find("/nonexistent/ckpt: model: found not a directory"),
            std::string::npos);
  const std::string dir = testing::scratch_dir("vit_nofiles");
  EXPECT_NE(load_error(dir).find("config.json: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace fqvit
