// scripts/convert end to end: the committed .pth (DeiT, official Swin) and .npz examples convert into checkpoint directories that fqvit
// loads and that give the PyTorch reference model's logits (tests/data/convert/golden.safetensors, made by
// scripts/convert/make_examples.py); bad inputs fail with one line and leave nothing behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cli_runner.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/model/vision_model.h"
#include "test_paths.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;

constexpr float kMaxLogitDiff = 1e-4f;  // fast float kernels against torch's, on logits of order 1

std::string example(const std::string& name) { return testing::source_dir() + "/tests/data/convert/" + name; }

testing::CliResult run_converter(const std::string& script, const std::string& args) {
  if (!fs::exists("/usr/bin/python3")) return {77, "no /usr/bin/python3"};
  const std::string cmd = "/usr/bin/python3 " + testing::source_dir() + "/scripts/convert/" + script + " " + args;
  return testing::run_shell(cmd);
}

#define SKIP_WITHOUT_TORCH()                                                                        \
  if (testing::run_shell("/usr/bin/python3 -c 'import torch'").exit_code != 0) {                    \
    GTEST_SKIP() << "python3-torch not available: the converters need it";                          \
  }

void expect_reference_logits(const std::string& dir, const std::string& golden_name,
                             const std::string& input_name = "input") {
  const auto golden = SafetensorsFile::open(example("golden.safetensors"));
  const Tensor input = golden.load_float(input_name);
  const Tensor expected = golden.load_float(golden_name);
  const auto model = load_model(dir);
  const Tensor logits = model->forward(input);
  ASSERT_EQ(logits.shape(), expected.shape());
  float max_diff = 0.0f;
  for (int64_t i = 0; i < logits.numel(); ++i) max_diff = std::max(max_diff, std::fabs(logits[i] - expected[i]));
  EXPECT_LE(max_diff, kMaxLogitDiff) << dir;
}

TEST(Convert, TimmPthLoadsWithReferenceLogits) {
  SKIP_WITHOUT_TORCH();
  const std::string out = testing::scratch_dir("convert_pth") + "/deit";
  const auto r = run_converter("timm_pth.py", example("deit_distilled_example.pth") +
                                                  " --architecture deit_test_tiny_distilled --num-heads 3 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ModelConfig config = load_model_config(out);
  EXPECT_TRUE(config.distilled);
  EXPECT_EQ(config.num_classes, 10);
  EXPECT_EQ(config.img_size, 32);
  EXPECT_EQ(config.preprocess.crop_pct, 0.875);  // DeiT's timm default
  expect_reference_logits(out, "logits_pth");
}

TEST(Convert, AugregNpzLoadsWithReferenceLogits) {
  SKIP_WITHOUT_TORCH();
  const std::string out = testing::scratch_dir("convert_npz") + "/vit";
  const auto r = run_converter("augreg_npz.py", example("vit_augreg_example.npz") + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ModelConfig config = load_model_config(out);
  EXPECT_EQ(config.num_heads, 2);  // read from the [D, heads, head_dim] kernels
  EXPECT_EQ(config.num_classes, 7);
  EXPECT_EQ(config.preprocess.mean[0], 0.5f);  // AugReg's normalization
  expect_reference_logits(out, "logits_npz");
}

TEST(Convert, OfficialSwinPthWithBuffersLoadsWithReferenceLogits) {
  SKIP_WITHOUT_TORCH();
  const std::string out = testing::scratch_dir("convert_swin") + "/swin";
  const auto r = run_converter("timm_pth.py", example("swin_official_example.pth") +
                                                  " --architecture swin_test_tiny --img-size 56 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ModelConfig config = load_model_config(out);
  EXPECT_EQ(config.family, ModelFamily::kSwin);
  EXPECT_EQ(config.depths, (std::vector<int>{2, 2}));
  EXPECT_EQ(config.stage_heads, (std::vector<int>{1, 2}));  // read from the relative-position bias tables
  EXPECT_EQ(config.window_size, 7);
  expect_reference_logits(out, "logits_swin", "input_swin");
}

TEST(Convert, BadInputsFailWithOneLineAndNoOutput) {
  SKIP_WITHOUT_TORCH();
  const std::string dir = testing::scratch_dir("convert_bad");
  {
    std::ofstream(dir + "/broken.pth") << "not a checkpoint";
    const auto r = run_converter("timm_pth.py", dir + "/broken.pth --architecture deit_tiny_patch16_224 --out " +
                                                    dir + "/a");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("broken.pth: file: found unreadable"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/a/model.safetensors"));
  }
  {  // a ViT checkpoint named as Swin: the first missing tensor is named
    const auto r = run_converter("timm_pth.py", example("deit_distilled_example.pth") +
                                                    " --architecture swin_tiny_patch4_window7_224 --out " + dir + "/b");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("layers.0.blocks.0.*: found nothing, expected Swin stages"), std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(dir + "/b/model.safetensors"));
  }
  {  // the head count of an unknown architecture is asked for
    const auto r = run_converter("timm_pth.py", example("deit_distilled_example.pth") +
                                                    " --architecture deit_test_tiny_distilled --out " + dir + "/c");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--num-heads: found nothing"), std::string::npos) << r.output;
  }
  {  // an existing checkpoint is never written over
    const std::string out = dir + "/d";
    ASSERT_EQ(run_converter("augreg_npz.py", example("vit_augreg_example.npz") + " --out " + out).exit_code, 0);
    const auto before = fs::last_write_time(out + "/model.safetensors");
    const auto r = run_converter("augreg_npz.py", example("vit_augreg_example.npz") + " --out " + out);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--out: found an existing model.safetensors"), std::string::npos) << r.output;
    EXPECT_EQ(fs::last_write_time(out + "/model.safetensors"), before);
  }
}

}  // namespace
}  // namespace fqvit
