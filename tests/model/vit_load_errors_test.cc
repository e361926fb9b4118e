// A checkpoint that is missing a tensor, has a misshapen one, or disagrees with its config is refused with one line
// naming the file, the tensor, the value found and the value expected.
#include <gtest/gtest.h>

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

TEST(VitLoadErrors, MissingDirectoryAndFiles) {
  EXPECT_NE(load_error("/nonexistent/ckpt").find("/nonexistent/ckpt: model: found not a directory"),
            std::string::npos);
  const std::string dir = testing::scratch_dir("vit_nofiles");
  EXPECT_NE(load_error(dir).find("config.json: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace fqvit
