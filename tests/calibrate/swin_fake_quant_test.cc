// The Swin graph's quantizer points driven by this library's hooks end to end on a small random Swin (two stages,
// a shifted block, a patch merging whose integer LayerNorm sees 4C channels over a C-channel PTF quantizer):
// calibrate with MinMax + PTF + LIS, fake-quantize, and check that the 8/8/4 model stays close to FP32. This is an
// integration check (every point has a fitted quantizer of the right shape, nothing blows up); where each quantizer
// sits is checked in tests/model/swin_model_test.cc. (Adding the mask before attn.qact2 instead of after it moves
// this figure by only 1%: 4-bit LIS dominates here.)
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fqvit/calibrate/fake_quant_model.h"
#include "fqvit/calibrate/hooks.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/calibrate/quant_state.h"
#include "fqvit/model/vision_model.h"
#include "model/tiny_swin_checkpoint.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int kBatches = 3;
constexpr int kBatch = 8;
// 8/8/4 fake quantization of a random 2-stage Swin: relative RMS error of the logits against FP32. Generous, as
// random weights have no trained structure (measured: 0.050).
constexpr double kMaxRelativeRms = 0.35;

Tensor random_images(const testing::TinySwinSpec& spec, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor images({kBatch, 3, spec.img, spec.img});
  for (int64_t i = 0; i < images.numel(); ++i) images[i] = normal(rng);
  return images;
}

TEST(SwinFakeQuant, CalibratedPtfLisStaysNearFp32) {
  testing::TinySwinSpec spec;
  const std::string dir = testing::scratch_dir("swin_fake_quant");
  testing::write_checkpoint(dir, testing::tiny_swin_tensors(spec), testing::tiny_swin_config(spec));
  auto model = load_model(dir);

  QuantSettings settings;  // MinMax + PTF + LIS, 8/8/4
  const std::vector<QuantizerSpec> specs = plan_activations(*model, settings);
  CalibrationHooks calibration(specs, settings);
  for (int b = 0; b < kBatches; ++b) {
    calibration.begin_batch(b + 1 == kBatches);
    model->forward(random_images(spec, 100 + static_cast<uint32_t>(b)), &calibration);
  }
  QuantState state;
  state.settings = settings;
  state.activations = calibration.take_fitted();
  state.weights = fit_weights(*model, plan_weights(*model, settings));

  const Tensor images = random_images(spec, 7);
  const Tensor fp32 = model->forward(images);
  const FakeQuantModel quantized(model->clone(), std::move(state), "swin fake-quant test");
  const Tensor q = quantized.forward(images);
  ASSERT_EQ(q.shape(), fp32.shape());
  double err = 0.0, ref = 0.0;
  for (int64_t i = 0; i < q.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(q[i]));
    err += (q[i] - fp32[i]) * (q[i] - fp32[i]);
    ref += fp32[i] * fp32[i];
  }
  const double relative_rms = std::sqrt(err / ref);
  std::printf("Swin tiny random, 8/8/4 PTF+LIS fake quant: relative RMS logit error %.4f\n", relative_rms);
  EXPECT_LT(relative_rms, kMaxRelativeRms);
  EXPECT_GT(relative_rms, 0.0);  // the quantizers did act
}

}  // namespace
}  // namespace fqvit
