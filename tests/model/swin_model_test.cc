// SwinModel on small random checkpoints: the official and timm layouts give identical logits, the name table and
// layout detection, the quantizer points (names, order, LayerNorm quantizer pairs as FQ-ViT's swin_quant.py passes
// them, mask and position bias placed as the reference places them), and clear errors for malformed checkpoints.
// Logit parity with PyTorch is in vit_parity_test.cc (tests/data/models and <build>/goldens).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/model/swin_model.h"
#include "fqvit/model/swin_names.h"
#include "test_paths.h"
#include "tiny_swin_checkpoint.h"

namespace fqvit {
namespace {

constexpr int kBatch = 3;

Tensor test_images(const testing::TinySwinSpec& spec, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor images({kBatch, 3, spec.img, spec.img});
  for (int64_t i = 0; i < images.numel(); ++i) images[i] = normal(rng);
  return images;
}

std::string write_tiny(const std::string& name, const testing::TinySwinSpec& spec,
                       const std::map<std::string, Tensor>& tensors) {
  const std::string dir = testing::scratch_dir(name);
  testing::write_checkpoint(dir, tensors, testing::tiny_swin_config(spec));
  return dir;
}

std::string load_error(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SwinModel, OfficialAndTimmLayoutsGiveIdenticalLogits) {
  testing::TinySwinSpec official;
  testing::TinySwinSpec timm = official;
  timm.timm_layout = true;
  // Same seed: the same values under the two layouts' names (the map order differs only by name).
  const auto a = load_model(write_tiny("swin_official", official, testing::tiny_swin_tensors(official)));
  const auto b = load_model(write_tiny("swin_timm", timm, testing::tiny_swin_tensors(timm)));
  EXPECT_EQ(dynamic_cast<const SwinModel&>(*a).source_layout(), SwinLayout::kOfficial);
  EXPECT_EQ(dynamic_cast<const SwinModel&>(*b).source_layout(), SwinLayout::kTimm);
  const Tensor images = test_images(official);
  const Tensor la = a->forward(images), lb = b->forward(images);
  ASSERT_EQ(la.shape(), (Shape{kBatch, official.classes}));
  for (int64_t i = 0; i < la.numel(); ++i) EXPECT_EQ(la[i], lb[i]) << i;
}

TEST(SwinNames, BothLayouts) {
  EXPECT_EQ(swin_tensor_name(SwinTensor::kMergeReduction, SwinLayout::kOfficial, 1),
            "layers.1.downsample.reduction.weight");
  EXPECT_EQ(swin_tensor_name(SwinTensor::kMergeReduction, SwinLayout::kTimm, 1),
            "layers.2.downsample.reduction.weight");
  EXPECT_EQ(swin_tensor_name(SwinTensor::kHeadWeight, SwinLayout::kOfficial), "head.weight");
  EXPECT_EQ(swin_tensor_name(SwinTensor::kHeadBias, SwinLayout::kTimm), "head.fc.bias");
  EXPECT_EQ(swin_tensor_name(SwinTensor::kRelPosBiasTable, SwinLayout::kTimm, 2, 5),
            "layers.2.blocks.5.attn.relative_position_bias_table");
  EXPECT_EQ(swin_tensor_name(SwinTensor::kPatchNormBias, SwinLayout::kTimm), "patch_embed.norm.bias");
}

TEST(SwinNames, DetectLayout) {
  EXPECT_EQ(detect_swin_layout({"head.weight", "layers.0.downsample.reduction.weight"}, "f"), SwinLayout::kOfficial);
  EXPECT_EQ(detect_swin_layout({"head.fc.weight", "layers.1.downsample.reduction.weight"}, "f"), SwinLayout::kTimm);
  EXPECT_EQ(detect_swin_layout({"head.weight"}, "f"), SwinLayout::kOfficial);  // one stage: no merging at all
  EXPECT_THROW(detect_swin_layout({"norm.weight"}, "f"), Error);
  EXPECT_THROW(detect_swin_layout({"head.weight", "head.fc.weight"}, "f"), Error);
  EXPECT_THROW(detect_swin_layout({"head.fc.weight", "layers.0.downsample.norm.weight"}, "f"), Error);
  EXPECT_THROW(detect_swin_layout({"head.weight", "layers.1.downsample.norm.weight"}, "f"), Error);
}

// Records every hook call; optionally overwrites one activation with a constant.
class RecordingHooks : public QuantHooks {
 public:
  std::vector<std::string> activations;
  std::vector<std::pair<std::string, std::string>> norms;
  std::vector<std::pair<std::string, std::string>> softmaxes;
  std::map<std::string, std::pair<float, float>> ranges;  // min, max seen by each activation
  std::map<std::string, float> softmax_min;               // min logit given to each softmax
  std::string zero_name;                                  // activation overwritten with zeros

  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    activations.push_back(name);
    const auto [lo, hi] = std::minmax_element(x, x + rows * channels);
    ranges[name] = {*lo, *hi};
    if (name == zero_name) std::fill(x, x + rows * channels, 0.0f);
  }
  bool layer_norm(const std::string& in, const std::string& out, const float*, int64_t, int64_t, const Tensor&,
                  const Tensor&, float*) override {
    norms.emplace_back(in, out);
    return false;
  }
  bool softmax(const std::string& name, const std::string& logits, float* x, int64_t rows, int64_t cols) override {
    softmaxes.emplace_back(name, logits);
    softmax_min[name] = *std::min_element(x, x + rows * cols);
    return false;
  }
};

TEST(SwinModel, QuantizerPointsFollowFqvit) {
  testing::TinySwinSpec spec;
  const auto model = load_model(write_tiny("swin_hooks", spec, testing::tiny_swin_tensors(spec)));
  const Tensor images = test_images(spec);
  RecordingHooks hooks;
  const Tensor with_hooks = model->forward(images, &hooks);
  EXPECT_EQ(hooks.activations, model->activation_points());

  // The expected sequence, spelled out from swin_quant.py for depths {2, 2}.
  std::vector<std::string> expected = {"qact_input", "patch_embed.qact_before_norm", "patch_embed.qact"};
  std::vector<std::pair<std::string, std::string>> norms = {{"patch_embed.qact_before_norm", "patch_embed.qact"}};
  std::string last = "patch_embed.qact";
  for (int s = 0; s < 2; ++s) {
    for (int b = 0; b < 2; ++b) {
      const std::string p = "layers." + std::to_string(s) + ".blocks." + std::to_string(b) + ".";
      for (const char* n : {"qact1", "attn.qact1", "attn.qact_attn1", "attn.qact_table", "attn.qact2",
                            "attn.log_int_softmax", "attn.qact3", "attn.qact4", "qact2", "qact3", "mlp.qact1",
                            "mlp.qact2", "qact4"}) {
        expected.push_back(p + n);
      }
      norms.emplace_back(last, p + "qact1");
      norms.emplace_back(p + "qact2", p + "qact3");
      last = p + "qact4";
    }
    if (s == 0) {
      expected.push_back("layers.0.downsample.qact1");
      expected.push_back("layers.0.downsample.qact2");
      norms.emplace_back(last, "layers.0.downsample.qact1");
      last = "layers.0.downsample.qact2";
    }
  }
  for (const char* n : {"qact2", "qact3", "act_out"}) expected.push_back(n);
  norms.emplace_back(last, "qact2");
  EXPECT_EQ(hooks.activations, expected);
  EXPECT_EQ(hooks.norms, norms);
  ASSERT_EQ(hooks.softmaxes.size(), 4u);
  EXPECT_EQ(hooks.softmaxes[1],
            std::make_pair(std::string("layers.0.blocks.1.attn.log_int_softmax"), std::string("layers.0.blocks.1.attn.qact2")));

  // Observing hooks change nothing.
  const Tensor plain = model->forward(images);
  for (int64_t i = 0; i < plain.numel(); ++i) EXPECT_EQ(plain[i], with_hooks[i]);

  // The mask (-100) is added after attn.qact2, before the softmax, and only in the shifted block of stage 0
  // (stage 1's 4x4 grid is one window: no shift).
  EXPECT_GT(hooks.ranges["layers.0.blocks.1.attn.qact2"].first, -50.0f);
  EXPECT_LT(hooks.softmax_min["layers.0.blocks.1.attn.log_int_softmax"], -50.0f);
  EXPECT_GT(hooks.softmax_min["layers.0.blocks.0.attn.log_int_softmax"], -50.0f);
  EXPECT_GT(hooks.softmax_min["layers.1.blocks.1.attn.log_int_softmax"], -50.0f);

  const std::vector<WeightRef> refs = model->weights();
  std::vector<std::string> weight_names;
  for (const WeightRef& r : refs) weight_names.push_back(r.name);
  EXPECT_EQ(weight_names.front(), "patch_embed.proj");
  EXPECT_EQ(weight_names.back(), "head");
  EXPECT_EQ(weight_names.size(), 1u + 4u * 4u + 1u + 1u);
  const auto reduction = std::find_if(refs.begin(), refs.end(),
                                      [](const WeightRef& r) { return r.name == "layers.0.downsample.reduction"; });
  ASSERT_NE(reduction, refs.end());
  EXPECT_EQ(reduction->bias, nullptr);
  EXPECT_EQ(reduction->weight->shape(), (Shape{16, 32}));
  EXPECT_EQ(weight_names[5], "layers.0.blocks.1.attn.qkv");
}

TEST(SwinModel, QuantizedTableIsTheOneAdded) {
  // Zeroing attn.qact_table through the hook equals a checkpoint whose table is zero.
  testing::TinySwinSpec spec;
  auto tensors = testing::tiny_swin_tensors(spec);
  const auto model = load_model(write_tiny("swin_table", spec, tensors));
  const std::string table = "layers.0.blocks.1.attn.relative_position_bias_table";
  tensors[table] = Tensor(tensors[table].shape());
  const auto zeroed = load_model(write_tiny("swin_table_zero", spec, tensors));
  const Tensor images = test_images(spec);
  RecordingHooks hooks;
  hooks.zero_name = "layers.0.blocks.1.attn.qact_table";
  const Tensor a = model->forward(images, &hooks);
  const Tensor b = zeroed->forward(images);
  const Tensor c = model->forward(images);
  float moved = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_EQ(a[i], b[i]);
    moved = std::max(moved, std::fabs(a[i] - c[i]));
  }
  EXPECT_GT(moved, 1e-5f);
}

TEST(SwinModel, BatchPositionsAreIndependent) {
  testing::TinySwinSpec spec;
  const auto model = load_model(write_tiny("swin_batch", spec, testing::tiny_swin_tensors(spec)));
  const Tensor images = test_images(spec);
  const Tensor all = model->forward(images);
  const int64_t image_size = images.numel() / kBatch;
  for (int64_t b = 0; b < kBatch; ++b) {
    Tensor one({1, 3, spec.img, spec.img});
    std::copy(images.data() + b * image_size, images.data() + (b + 1) * image_size, one.data());
    const Tensor single = model->forward(one);
    for (int64_t c = 0; c < spec.classes; ++c) EXPECT_NEAR(single[c], all[b * spec.classes + c], 1e-5f);
  }
}

// --- malformed checkpoints ------------------------------------------------------------------------------------

TEST(SwinLoadErrors, MissingRelativePositionBiasTable) {
  testing::TinySwinSpec spec;
  auto tensors = testing::tiny_swin_tensors(spec);
  tensors.erase("layers.1.blocks.1.attn.relative_position_bias_table");
  const std::string e = load_error(write_tiny("swin_no_table", spec, tensors));
  EXPECT_NE(e.find("model.safetensors: layers.1.blocks.1.attn.relative_position_bias_table: found nothing"),
            std::string::npos) << e;
  EXPECT_NE(e.find("expected [49, 4]"), std::string::npos) << e;
}

TEST(SwinLoadErrors, WindowDoesNotDivideResolution) {
  testing::TinySwinSpec spec;
  const auto tensors = testing::tiny_swin_tensors(spec);
  spec.window = 3;  // the 8x8 grid of stage 0
  const std::string e = load_error(write_tiny("swin_bad_window", spec, tensors));
  EXPECT_NE(e.find("window_size: found 3 on the 8x8 grid of stage 0"), std::string::npos) << e;
}

TEST(SwinLoadErrors, WindowDisagreesWithTable) {
  testing::TinySwinSpec spec;
  const auto tensors = testing::tiny_swin_tensors(spec);  // tables for window 4
  spec.window = 2;
  const std::string e = load_error(write_tiny("swin_window_vs_table", spec, tensors));
  EXPECT_NE(e.find("layers.0.blocks.0.attn.relative_position_bias_table.shape: found [49, 2], expected [9, 2]"),
            std::string::npos) << e;
}

TEST(SwinLoadErrors, DepthsDisagreeWithTensors) {
  testing::TinySwinSpec spec;
  const auto tensors = testing::tiny_swin_tensors(spec);
  spec.depths = {2, 3};
  const std::string e = load_error(write_tiny("swin_bad_depths", spec, tensors));
  EXPECT_NE(e.find("found depths [2, 2], expected depths [2, 3]"), std::string::npos) << e;
}

TEST(SwinLoadErrors, StagesDisagreeWithTensors) {
  testing::TinySwinSpec spec;
  const auto tensors = testing::tiny_swin_tensors(spec);
  spec.depths = {2, 2, 2};
  spec.heads = {2, 4, 8};
  const std::string e = load_error(write_tiny("swin_bad_stages", spec, tensors));
  EXPECT_NE(e.find("found depths [2, 2], expected depths [2, 2, 2]"), std::string::npos) << e;
}

TEST(SwinLoadErrors, HeadsDisagreeWithTable) {
  testing::TinySwinSpec spec;
  const auto tensors = testing::tiny_swin_tensors(spec);
  spec.heads = {2, 8};
  const std::string e = load_error(write_tiny("swin_bad_heads", spec, tensors));
  EXPECT_NE(e.find("layers.1.blocks.0.attn.relative_position_bias_table.shape: found [49, 4], expected [49, 8]"),
            std::string::npos) << e;
  EXPECT_NE(e.find("num_heads 8"), std::string::npos) << e;
}

TEST(SwinLoadErrors, HeadsMustDivideDim) {
  testing::TinySwinSpec spec;
  spec.heads = {3, 4};
  const std::string e = load_error(write_tiny("swin_heads_divide", spec, testing::tiny_swin_tensors(spec)));
  EXPECT_NE(e.find("layers.0 dim: found 8, expected a multiple of num_heads 3"), std::string::npos) << e;
}

TEST(SwinLoadErrors, MixedLayoutAndMissingMerging) {
  testing::TinySwinSpec spec;
  auto tensors = testing::tiny_swin_tensors(spec);
  tensors["head.fc.weight"] = tensors["head.weight"];
  tensors["head.fc.bias"] = tensors["head.bias"];
  tensors.erase("head.weight");
  tensors.erase("head.bias");
  std::string e = load_error(write_tiny("swin_mixed", spec, tensors));
  EXPECT_NE(e.find("layers.0.downsample: found present beside head.fc.weight"), std::string::npos) << e;

  tensors = testing::tiny_swin_tensors(spec);
  tensors.erase("layers.0.downsample.reduction.weight");
  e = load_error(write_tiny("swin_no_merge", spec, tensors));
  EXPECT_NE(e.find("layers.0.downsample.reduction.weight: found nothing"), std::string::npos) << e;
}

TEST(SwinLoadErrors, WrongRelativePositionIndexBuffer) {
  testing::TinySwinSpec spec;
  auto tensors = testing::tiny_swin_tensors(spec);
  const std::string dir = testing::scratch_dir("swin_bad_index");
  SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor);
  std::vector<int64_t> index(16 * 16, 0);  // window 4: 16 tokens; all zeros is wrong
  writer.add_values("layers.0.blocks.0.attn.relative_position_index", DType::kI64, {16, 16}, index);
  writer.write(dir + "/model.safetensors");
  std::ofstream(dir + "/config.json") << testing::tiny_swin_config(spec);
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("layers.0.blocks.0.attn.relative_position_index[0]: found 0, expected 24"), std::string::npos)
      << e;
}

TEST(SwinLoadErrors, WrongAttentionMaskBuffer) {
  testing::TinySwinSpec spec;
  auto tensors = testing::tiny_swin_tensors(spec);
  // Block 1 of stage 0 is shifted (4 windows of 16 tokens): an all-zero mask is wrong in the last windows.
  tensors["layers.0.blocks.1.attn_mask"] = Tensor({4, 16, 16});
  std::string e = load_error(write_tiny("swin_bad_mask", spec, tensors));
  EXPECT_NE(e.find("layers.0.blocks.1.attn_mask["), std::string::npos) << e;
  EXPECT_NE(e.find("found 0.0"), std::string::npos) << e;
  EXPECT_NE(e.find("expected -100.0"), std::string::npos) << e;

  tensors = testing::tiny_swin_tensors(spec);
  tensors["layers.0.blocks.0.attn_mask"] = Tensor({4, 16, 16});  // block 0 is not shifted
  e = load_error(write_tiny("swin_unshifted_mask", spec, tensors));
  EXPECT_NE(e.find("layers.0.blocks.0.attn_mask: found present, expected no attention mask"), std::string::npos) << e;
}

TEST(SwinModel, RejectsImagesOfAnotherSize) {
  testing::TinySwinSpec spec;
  const auto model = load_model(write_tiny("swin_image_size", spec, testing::tiny_swin_tensors(spec)));
  try {
    model->forward(Tensor({1, 3, 64, 64}));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("images.shape: found [1, 3, 64, 64], expected [B >= 1, 3, 32, 32]"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fqvit
