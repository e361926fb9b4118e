// Calibrate -> save -> load -> fake-quant forward on every committed small checkpoint (ViT, DeiT distilled with
// qact_input, Swin with windows, shifted masks, patch merging), under each preset: every placement of the reference
// must get a quantizer, survive the file, and give finite logits that follow the float model's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

// Random small models through 8-bit fake quantization: logits stay strongly correlated with the float ones.
constexpr double kMinCorrelation = 0.9;

const char* const kModels[] = {"vit_small_random_committed", "deit_distilled_small_random_committed",
                               "swin_small_committed", "swin_small_committed_timm"};

double correlation(const Tensor& a, const Tensor& b) {
  double ma = 0, mb = 0;
  for (int64_t i = 0; i < a.numel(); ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(a.numel()), mb /= static_cast<double>(b.numel());
  double sab = 0, saa = 0, sbb = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Two calibration batches: the golden input and its mirror image.
Tensor mirrored(const Tensor& x) {
  Tensor y(x.shape());
  const int64_t w = x.dim(-1);
  for (int64_t r = 0; r < x.numel() / w; ++r) {
    for (int64_t c = 0; c < w; ++c) y[r * w + c] = x[r * w + (w - 1 - c)];
  }
  return y;
}

void run(const std::string& model_name, const QuantSettings& settings, const std::string& tag) {
  const std::string dir = testing::source_dir() + "/tests/data/models/" + model_name;
  auto model = load_model(dir);
  const Tensor input = SafetensorsFile::open(dir + "/golden.safetensors").load_float("input");
  const Tensor fp32 = model->forward(input);
  Calibrator calib(*model, settings);
  calib.observe(mirrored(input), false);
  calib.observe(input, true);
  const QuantState state = calib.finish();
  EXPECT_EQ(state.activations.size(), model->activation_points().size());
  const std::string path = testing::scratch_dir("calibrate_models_" + model_name + "_" + tag) + "/q.safetensors";
  CalibrationInfo info;
  info.order = "test";
  auto float_model = load_model(dir);
  save_quantized_model(path, dir, *float_model, state, info);
  const auto fq = load_fake_quant_model(path);
  const Tensor logits = fq->forward(input);
  ASSERT_EQ(logits.shape(), fp32.shape());
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_TRUE(std::isfinite(logits[i])) << model_name << " " << i;
  const double corr = correlation(logits, fp32);
  std::printf("%-40s %-10s correlation with fp32 logits %.4f\n", model_name.c_str(), tag.c_str(), corr);
  EXPECT_GE(corr, kMinCorrelation) << model_name << " " << tag;
}

TEST(CalibrateModels, PtfLisW8A8Attn4) {
  for (const char* m : kModels) run(m, QuantSettings{}, "ptf_lis");
}

TEST(CalibrateModels, EveryObserverWithoutPtfLis) {
  for (const char* method : {"minmax", "ema", "percentile", "omse"}) {
    QuantSettings s;
    s.method = method;
    s.ptf = false;
    s.lis = false;
    s.attn_bits = 8;
    for (const char* m : kModels) run(m, s, method);
  }
}

// configs/fqvit_plus.json (every extension of docs/quantization.md section 11) on every placement: ViT, DeiT
// distilled (two heads read qact2), Swin (windows, patch merging with its tiled PTF scales, both layouts).
TEST(CalibrateModels, FqvitPlusPreset) {
  const QuantSettings plus = load_quant_settings(testing::source_dir() + "/configs/fqvit_plus.json");
  ASSERT_TRUE(plus.extensions.any());
  for (const char* m : kModels) run(m, plus, "plus");
}

TEST(CalibrateModels, PerLayerOverrideKeepsHeadAt8Bits) {
  QuantSettings s;
  s.w_bits = 6;
  s.layers["head"].bits = 8;
  auto model = load_model(testing::source_dir() + "/tests/data/models/vit_small_random_committed");
  const Tensor input =
      SafetensorsFile::open(testing::source_dir() + "/tests/data/models/vit_small_random_committed/golden.safetensors")
          .load_float("input");
  Calibrator calib(*model, s);
  calib.observe(input, true);
  const QuantState state = calib.finish();
  EXPECT_EQ(state.weights.at("head").bit_type.bits, 8);
  EXPECT_EQ(state.weights.at("blocks.0.attn.qkv").bit_type.bits, 6);
  s.layers["no_such_layer"].bits = 8;
  EXPECT_THROW(Calibrator bad(*model, s), Error);
}

}  // namespace
}  // namespace fqvit
