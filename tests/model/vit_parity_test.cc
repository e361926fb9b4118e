// Float logits of every checkpoint directory that carries a golden.safetensors (`input`, `logits` from the plain
// PyTorch reference in scripts/reference) against fqvit::load_model + forward, on both float numerics. Three roots:
//  - <build>/goldens: DeiT-S / Swin-T shaped random checkpoints, made at test time by the ctest fixture
//    `make_model_goldens` (scripts/make_model_goldens.py; skipped without PyTorch);
//  - tests/data/models: small committed ones (F16 / BF16 storage, Swin in official and timm-hub layouts);
//  - demo/models: the embedded demo models trained on Fashion-MNIST (scripts/train_demo.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "fqvit/io/model_config.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/model/vision_model.h"
#include "platform_guard.h"
#include "test_paths.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;

constexpr float kMaxLogitDiff = 1e-3f;  // float32 graphs with different summation orders, logits of size O(1-10)

// Checks every checkpoint of `family` under `root`; skips when the root or such checkpoints are missing. On the fast
// numerics the logits must agree to float tolerance; on the torch numerics they must be identical when the goldens
// were made on this platform: the one their metadata records, else `made_on`.
void check_root(const std::string& root, ModelFamily family, const char* origin, const std::string& made_on) {
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not found (" << origin << "): skipped";
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!fs::is_regular_file(entry.path() / "golden.safetensors")) continue;
    if (load_model_config(entry.path().string()).family == family) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty()) GTEST_SKIP() << "no " << family_name(family) << " checkpoint with golden.safetensors in " << root;
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.string());
    try {
      const auto golden = SafetensorsFile::open((dir / "golden.safetensors").string());
      const Tensor input = golden.load_float("input");
      const Tensor expected = golden.load_float("logits");
      const auto recorded = golden.metadata().find("platform");
      const bool compare_bits =
          (recorded != golden.metadata().end() ? recorded->second : made_on) == torch_cpu::platform();
      const auto model = load_model(dir.string());
      const Tensor logits = model->forward(input);
      ASSERT_EQ(logits.shape(), expected.shape());
      float max_diff = 0.0f;
      for (int64_t i = 0; i < logits.numel(); ++i) {
        max_diff = std::max(max_diff, std::fabs(logits[i] - expected[i]));
      }
      EXPECT_LE(max_diff, kMaxLogitDiff);
      model->set_numerics(Numerics::kTorch);
      const Tensor torch_logits = model->forward(input);
      int64_t torch_differing = 0;
      for (int64_t i = 0; i < logits.numel(); ++i) torch_differing += torch_logits[i] != expected[i];
      std::printf("%s: max |logit diff| = %.3g (fast numerics); torch numerics: %lld of %lld logits differ%s\n",
                  dir.filename().c_str(), static_cast<double>(max_diff), static_cast<long long>(torch_differing),
                  static_cast<long long>(logits.numel()),
                  compare_bits ? "" : " (goldens made on another platform: not asserted)");
      if (compare_bits) {
        EXPECT_EQ(torch_differing, 0);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

std::string fixture_root() { return testing::binary_dir() + "/goldens"; }
std::string committed_root() { return testing::source_dir() + "/tests/data/models"; }
std::string demo_root() { return testing::source_dir() + "/demo/models"; }

TEST(ModelParity, FixtureVit) {
  check_root(fixture_root(), ModelFamily::kVit, "made by the make_model_goldens fixture", kReferencePlatform);
}
TEST(ModelParity, FixtureSwin) {
  check_root(fixture_root(), ModelFamily::kSwin, "made by the make_model_goldens fixture", kReferencePlatform);
}
// Goldens without a recorded platform (the committed and demo ones) were made on the reference's (platform_guard.h).
TEST(ModelParity, CommittedVit) { check_root(committed_root(), ModelFamily::kVit, "committed", kReferencePlatform); }
TEST(ModelParity, CommittedSwin) { check_root(committed_root(), ModelFamily::kSwin, "committed", kReferencePlatform); }
TEST(ModelParity, DemoVit) { check_root(demo_root(), ModelFamily::kVit, "demo models", kReferencePlatform); }
TEST(ModelParity, DemoSwin) { check_root(demo_root(), ModelFamily::kSwin, "demo models", kReferencePlatform); }

}  // namespace
}  // namespace fqvit
