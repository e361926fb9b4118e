// The whole integer model on every kernel path this CPU has (ref, AVX-512 VNNI, AMX: GEMMs and the non-GEMM ops
// dispatched with them; on AVX-512 also with VBMI masked, the fallbacks of the kernels that need it) gives identical
// scores, at 1 and 2 threads, and for each image alone as in a batch of 8.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fqvit/core/parallel.h"
#include "fqvit/int_exec/executor.h"
#include "fqvit/kernels/gemm.h"
#include "fqvit/lower/lower.h"
#include "int_test_support.h"
#include "kernels/cpu_features.h"

namespace fqvit {
namespace {

// Scores of `images` under the plan lowered with `isa` (weights are packed for the path in use at lowering).
std::vector<int32_t> scores_on(GemmIsa isa, const std::string& path, const testing::Images& images, int threads,
                               int64_t first, int64_t count) {
  force_gemm_isa(isa);
  const LoweredModel lowered = lower_quantized_model(path);
  const IntExecutor exec(lowered.plan);
  const int64_t plane = 3 * lowered.plan->image_size * lowered.plan->image_size;
  std::vector<int32_t> scores(static_cast<size_t>(count * lowered.plan->classes));
  set_num_threads(threads);
  exec.run(images.pixels.data() + first * plane, count, scores.data());
  set_num_threads(0);
  return scores;
}

void check_paths(const std::string& path, const testing::Images& images, const std::string& what) {
  const GemmIsa initial = gemm_isa_in_use();
  const std::vector<int32_t> want = scores_on(GemmIsa::kRef, path, images, 1, 0, images.count);
  const int64_t classes = static_cast<int64_t>(want.size()) / images.count;
  for (const GemmIsa isa : {GemmIsa::kRef, GemmIsa::kAvx512Vnni, GemmIsa::kAmx}) {
    if (!gemm_isa_supported(isa)) continue;
    for (const int threads : {1, 2}) {
      EXPECT_EQ(scores_on(isa, path, images, threads, 0, images.count), want)
          << what << " on " << gemm_isa_name(isa) << " at " << threads << " threads";
    }
    if (isa != GemmIsa::kRef && kernels::cpu_has_avx512_vbmi()) {  // the fallbacks of the kernels that need VBMI
      kernels::mask_avx512_vbmi(true);
      EXPECT_EQ(scores_on(isa, path, images, 2, 0, images.count), want) << what << " on " << gemm_isa_name(isa) << " without VBMI";
      kernels::mask_avx512_vbmi(false);
    }
    for (const int64_t i : {int64_t{0}, images.count - 1}) {
      const std::vector<int32_t> alone = scores_on(isa, path, images, 2, i, 1);
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), want.begin() + i * classes))
          << what << " on " << gemm_isa_name(isa) << ": image " << i << " alone";
    }
  }
  force_gemm_isa(initial);
}

TEST(IsaPaths, DemoModelsGiveIdenticalScoresOnEveryPath) {
  for (const char* model : {"vit_micro", "swin_micro"}) {
    for (const char* config : {"fqvit_w8a8attn4", "fqvit_w8a8attn8", "minmax_w8a8attn8", "fqvit_plus"}) {
      const std::string path = testing::calibrate_demo(model, config);
      const auto list = testing::first_images(testing::source_dir() + "/demo/data/val",
                                              testing::source_dir() + "/demo/data/classes.txt", 8, 61);
      const LoweredModel lowered = lower_quantized_model(path);
      check_paths(path, testing::load_images(list, lowered.config.preprocess), std::string(model) + " " + config);
    }
  }
}

// The fqvit_plus forms (int_ops_plus.h: per-channel epilogues fused into the VNNI GEMM, the wide LayerNorm, the
// 16-bit stream's residual adds) against their reference kernels, which the ref path runs.
TEST(IsaPaths, PlusDemoModelsGiveIdenticalScoresOnEveryPath) {
  const auto list = testing::first_images(testing::source_dir() + "/demo/data/val",
                                          testing::source_dir() + "/demo/data/classes.txt", 8, 61);
  for (const char* config : {"fqvit_plus"}) {
    const std::string path = testing::calibrate_demo("vit_micro", config);
    const LoweredModel lowered = lower_quantized_model(path);
    check_paths(path, testing::load_images(list, lowered.config.preprocess), std::string("vit_micro ") + config);
  }
  const std::string dir = testing::source_dir() + "/tests/data/models/deit_distilled_small_random_committed";
  const std::string path = testing::calibrate_dir(dir, "deit_distilled", "fqvit_plus");
  const LoweredModel lowered = lower_quantized_model(path);
  check_paths(path, testing::load_images(list, lowered.config.preprocess), "deit_distilled fqvit_plus");
}

TEST(IsaPaths, VitTinyPlusGivesIdenticalScoresOnEveryPath) {
  FQVIT_REQUIRE_SHARED(shared);
  const std::string path = testing::calibrate_dir(shared + "/models/vit_tiny_patch16_224", "vit_tiny", "fqvit_plus",
                                                  shared + "/imagenet/calib", shared + "/imagenet/classes.txt");
  const auto list = testing::first_images(shared + "/imagenet/val", shared + "/imagenet/classes.txt", 8, 80);
  const LoweredModel lowered = lower_quantized_model(path);
  check_paths(path, testing::load_images(list, lowered.config.preprocess), "ViT-Tiny fqvit_plus");
}

TEST(IsaPaths, VitTinyGivesIdenticalScoresOnEveryPath) {
  FQVIT_REQUIRE_SHARED(shared);
  const std::string path = testing::reference_vit_tiny(shared, "golden_vit_tiny_qparams.json", kLisReferenceShift);
  const auto list = testing::first_images(shared + "/imagenet/val", "", 8, 80);
  const LoweredModel lowered = lower_quantized_model(path);
  check_paths(path, testing::load_images(list, lowered.config.preprocess), "ViT-Tiny");
}

}  // namespace
}  // namespace fqvit
