// Calibration against the reference's calibrated parameters: ViT-Tiny on shared/imagenet/calib in the reference's
// order (calib_order.txt, 10 batches of 100), MinMax + PTF + LIS 8/8/4, compared quantizer by quantizer with
// golden_vit_tiny_qparams.json. On torch numerics (float_kernels.h) the calibration passes compute the reference's
// floats exactly, so every parameter must be identical; the looser bounds (1% / 95%) are checked as well.
// (On the fast numerics: 126/126 scales within 1%, worst 0.29%, and 4797/4800 alphas equal.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/quant_state.h"
#include "fqvit/io/dataset.h"
#include "platform_guard.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr double kScaleRelTol = 0.01;          // activation scales within 1% ...
constexpr double kMinScaleFraction = 0.95;     // ... for at least 95% of per-tensor quantizers
constexpr double kMinAlphaFraction = 0.95;     // PTF exponents equal for at least 95% of channels
constexpr int kBatch = 100;
constexpr int kMaxDifferingQuantizers = 0;     // scale or zero point not bit-identical
constexpr int64_t kMaxDifferingAlphas = 0;

TEST(CalibrateGolden, VitTinyPtfLisMatchesReferenceQparams) {
  FQVIT_REQUIRE_SHARED(shared);
  FQVIT_REQUIRE_PLATFORM(kReferencePlatform);
  auto model = load_model(shared + "/models/vit_tiny_patch16_224");
  model->set_numerics(Numerics::kTorch);
  const ImageFolder folder = ImageFolder::open(shared + "/imagenet/calib");
  std::vector<LabeledImage> images = select_images(folder, shared + "/reference/calib_order.txt");
  const int64_t batches = static_cast<int64_t>(images.size()) / kBatch;
  ASSERT_EQ(batches, 10);
  Calibrator calib(*model, QuantSettings{});
  BatchLoader loader(images, model->config().preprocess, kBatch, 1);
  Batch batch;
  for (int64_t b = 0; b < batches && loader.next(&batch); ++b) calib.observe(batch.images, b == batches - 1);
  const QuantState got = calib.finish();
  const QuantState want = load_reference_qparams(shared + "/reference/golden_vit_tiny_qparams.json");

  int tensors = 0, tensors_close = 0, tensors_exact = 0;
  int64_t channels = 0, alpha_equal = 0;
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, w] : want.activations) {
    ASSERT_TRUE(got.activations.count(name)) << name;
    const ActivationQuantizer& g = *got.activations.at(name);
    ASSERT_EQ(g.kind(), w->kind()) << name;
    if (w->kind() == "uniform") {
      const double a = g.channel_scales()[0], b = w->channel_scales()[0];
      const double rel = std::fabs(a - b) / b;
      const QParams qg = static_cast<const UniformQuantizer&>(g).qparams();
      const QParams qw = static_cast<const UniformQuantizer&>(*w).qparams();
      tensors_exact += qg.scale == qw.scale && qg.zero_point == qw.zero_point;
      ++tensors;
      tensors_close += rel <= kScaleRelTol;
      if (rel > worst) worst = rel, worst_name = name;
    } else if (w->kind() == "ptf") {
      const auto& pg = static_cast<const PtfQuantizer&>(g).params();
      const auto& pw = static_cast<const PtfQuantizer&>(*w).params();
      ASSERT_EQ(pg.alpha.size(), pw.alpha.size());
      for (size_t c = 0; c < pw.alpha.size(); ++c) alpha_equal += pg.alpha[c] == pw.alpha[c];
      channels += static_cast<int64_t>(pw.alpha.size());
      const double rel = std::fabs(pg.scale1 - pw.scale1) / pw.scale1;
      tensors_exact += pg.scale1 == pw.scale1 && pg.zero_point == pw.zero_point;
      ++tensors;
      tensors_close += rel <= kScaleRelTol;
      if (rel > worst) worst = rel, worst_name = name;
    }
  }
  int weight_scales = 0, weight_equal = 0;
  for (const auto& [name, w] : want.weights) {
    const auto& g = got.weights.at(name);
    for (size_t i = 0; i < w.scales.size(); ++i) weight_equal += g.scales[i] == w.scales[i], ++weight_scales;
  }
  std::printf("calibration vs reference: %d/%d activation scales and zero points identical, "
              "%d/%d within 1%% (worst %.2f%% at %s), "
              "PTF alphas equal %lld/%lld, weight scales equal %d/%d\n",
              tensors_exact, tensors, tensors_close, tensors, 100 * worst, worst_name.c_str(), static_cast<long long>(alpha_equal),
              static_cast<long long>(channels), weight_equal, weight_scales);
  EXPECT_GE(tensors_close, kMinScaleFraction * tensors);
  EXPECT_GE(static_cast<double>(alpha_equal), kMinAlphaFraction * static_cast<double>(channels));
  EXPECT_EQ(weight_equal, weight_scales);
  EXPECT_LE(tensors - tensors_exact, kMaxDifferingQuantizers);
  EXPECT_LE(channels - alpha_equal, kMaxDifferingAlphas);
}

}  // namespace
}  // namespace fqvit
