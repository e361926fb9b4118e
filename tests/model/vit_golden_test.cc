// ViT-Tiny float logits against the reference's golden logits on its own preprocessed inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "fqvit/io/safetensors.h"
#include "fqvit/model/vision_model.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr float kMaxLogitDiff = 1e-3f;  // the foundation issue's bound against PyTorch's logits

TEST(VitGolden, LogitsMatchReferenceFp32) {
  FQVIT_REQUIRE_SHARED(shared);
  const auto golden = SafetensorsFile::open(shared + "/reference/golden_vit_tiny.safetensors");
  const Tensor input = golden.load_float("input");
  const Tensor expected = golden.load_float("logits_fp32");
  const auto model = load_model(shared + "/models/vit_tiny_patch16_224");
  const Tensor logits = model->forward(input);
  ASSERT_EQ(logits.shape(), expected.shape());
  float max_diff = 0.0f;
  for (int64_t i = 0; i < logits.numel(); ++i) max_diff = std::max(max_diff, std::fabs(logits[i] - expected[i]));
  EXPECT_LE(max_diff, kMaxLogitDiff);
  // The argmax of every image agrees too.
  for (int64_t b = 0; b < logits.dim(0); ++b) {
    const float* row = logits.data() + b * logits.dim(1);
    const float* ref = expected.data() + b * expected.dim(1);
    EXPECT_EQ(std::max_element(row, row + logits.dim(1)) - row, std::max_element(ref, ref + expected.dim(1)) - ref);
  }
  std::printf("ViT-Tiny golden: max |logit diff| = %.3g\n", static_cast<double>(max_diff));
}

}  // namespace
}  // namespace fqvit
