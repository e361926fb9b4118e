// Swin calibration and fake quant against an oracle: scripts/quant/fake_quant_swin.py, FQ-ViT's swin_quant.py
// rewritten in plain torch (its quantizer placement, observers and calibration order), run at test time on this
// machine's torch by the ctest fixture `make_swin_oracle` (a random micro Swin: patch 4, dim 32, depths 2-2-2-2,
// window 7; 100 calibration images in two batches of 50; seconds). On torch numerics both checks must be exact:
//  (1) calibration: every fitted activation quantizer (scale, zero point, PTF factors) and every weight scale
//      equals the oracle's, bit for bit;
//  (2) fake quant, teacher-forced: with the oracle's parameters, each point's output equals the oracle's on the
//      oracle's input of that point, and the logits of the unforced forward equal the oracle's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "fqvit/calibrate/hooks.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/calibrate/quant_state.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/model/vision_model.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int64_t kMaxDifferingQuantizers = 0;  // fitted activation quantizers that differ from the oracle's
constexpr int64_t kMaxDifferingWeightScales = 0;
constexpr int64_t kMaxForcedMismatches = 0;  // quantized values differing from the oracle's, teacher-forced
constexpr int64_t kMaxLogitMismatches = 0;   // unforced fake-quant logits differing from the oracle's
constexpr int64_t kCalibBatch = 50;          // the probe: batches of 50

struct OracleCase {
  const char* config;  // fake_quant_swin.py's CONFIG
  bool lis;
  int attn_bits;
};

void PrintTo(const OracleCase& c, std::ostream* os) { *os << c.config; }

// The fixture's output directory for a case; skips when the fixture could not run (no python3-torch).
std::string oracle_dir(const OracleCase& c) {
  const std::string dir = testing::binary_dir() + "/goldens/swin_oracle/" + c.config;
  return std::filesystem::exists(dir + "/dump.safetensors") ? dir : std::string();
}

QuantSettings settings_of(const OracleCase& c) {
  QuantSettings s;  // MinMax + PTF, 8-bit weights and activations
  s.lis = c.lis;
  s.attn_bits = c.attn_bits;
  return s;
}

Tensor images_slice(const Tensor& all, int64_t begin, int64_t count) {
  const int64_t per = all.numel() / all.dim(0);
  Tensor out({count, all.dim(1), all.dim(2), all.dim(3)});
  std::copy(all.data() + begin * per, all.data() + (begin + count) * per, out.data());
  return out;
}

// Whether two fitted quantizers are the same to the bit: kind, bit type, every channel scale and zero point.
std::string difference(const ActivationQuantizer& got, const ActivationQuantizer& want) {
  if (got.kind() != want.kind()) return "kind " + got.kind() + " vs " + want.kind();
  if (got.bit_type().bits != want.bit_type().bits) return "bits";
  const std::vector<float> gs = got.channel_scales(), ws = want.channel_scales();
  if (gs.size() != ws.size()) return "channels";
  double worst = 0;
  for (size_t i = 0; i < gs.size(); ++i) worst = std::max(worst, std::fabs(double{gs[i]} / ws[i] - 1.0));
  if (worst > 0) return "scale, relative " + std::to_string(worst);
  if (got.kind() == "uniform") {
    const auto* g = dynamic_cast<const UniformQuantizer*>(&got);
    const auto* w = dynamic_cast<const UniformQuantizer*>(&want);
    if (g->qparams().zero_point != w->qparams().zero_point) return "zero point";
  } else if (got.kind() == "ptf") {
    const auto& g = dynamic_cast<const PtfQuantizer*>(&got)->params();
    const auto& w = dynamic_cast<const PtfQuantizer*>(&want)->params();
    if (g.zero_point != w.zero_point) return "zero point";
    if (g.scale1 != w.scale1) return "scale1";
    if (g.alpha != w.alpha) return "alpha";
  }
  return {};
}

// FakeQuantHooks, then each point's output is compared with the oracle's and replaced by it (teacher forcing).
class ForcedHooks final : public QuantHooks {
 public:
  ForcedHooks(const QuantState& state, const SafetensorsFile& dump) : inner_(state), dump_(dump) {}
  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    inner_.activation(name, x, rows, channels);
    compare(name, x, rows * channels);
  }
  bool layer_norm(const std::string& in, const std::string& out, const float* x, int64_t rows, int64_t channels,
                  const Tensor& gamma, const Tensor& beta, float* y) override {
    return inner_.layer_norm(in, out, x, rows, channels, gamma, beta, y);
  }
  bool softmax(const std::string& name, const std::string& logits, float* x, int64_t rows, int64_t cols) override {
    const bool replaced = inner_.softmax(name, logits, x, rows, cols);
    if (replaced) compare(name, x, rows * cols);
    return replaced;
  }
  int64_t total = 0, mismatches = 0;
  std::map<std::string, int64_t> by_point;

 private:
  void compare(const std::string& name, float* x, int64_t n) {
    const Tensor want = dump_.load_float(name);
    ASSERT_EQ(want.numel(), n) << name;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += x[i] != want[i];
    if (bad > 0) by_point[name] += bad;
    total += n;
    mismatches += bad;
    std::copy(want.data(), want.data() + n, x);
  }
  FakeQuantHooks inner_;
  const SafetensorsFile& dump_;
};

class SwinOracleParity : public ::testing::TestWithParam<OracleCase> {};

TEST_P(SwinOracleParity, CalibrationFitsTheOraclesParameters) {
  const OracleCase& c = GetParam();
  const std::string dir = oracle_dir(c);
  if (dir.empty()) GTEST_SKIP() << "no oracle output (the make_swin_oracle fixture needs python3-torch): skipped";
  auto model = load_model(dir);
  model->set_numerics(Numerics::kTorch);
  const QuantSettings settings = settings_of(c);
  const Tensor calib = SafetensorsFile::open(dir + "/images.safetensors").load_float("calib");
  CalibrationHooks calibration(plan_activations(*model, settings), settings);
  for (int64_t b = 0; b < calib.dim(0); b += kCalibBatch) {
    calibration.begin_batch(b + kCalibBatch >= calib.dim(0));
    model->forward(images_slice(calib, b, std::min(kCalibBatch, calib.dim(0) - b)), &calibration);
  }
  const auto fitted = calibration.take_fitted();
  const QuantState oracle = load_reference_qparams(dir + "/qparams.json", settings.lis_exp_shift);

  int64_t differing = 0;
  for (const auto& [name, want] : oracle.activations) {
    const auto got = fitted.find(name);
    if (got == fitted.end()) {
      ADD_FAILURE() << name << ": no fitted quantizer";
      continue;
    }
    const std::string diff = difference(*got->second, *want);
    if (!diff.empty()) {
      ++differing;
      std::printf("  %s: %s (ours %s, oracle %s)\n", name.c_str(), diff.c_str(), got->second->summary().c_str(),
                  want->summary().c_str());
    }
  }
  EXPECT_EQ(fitted.size(), oracle.activations.size());
  const auto weights = fit_weights(*model, plan_weights(*model, settings));
  int64_t weight_differing = 0;
  for (const auto& [name, want] : oracle.weights) {
    const auto got = weights.find(name);
    ASSERT_NE(got, weights.end()) << name;
    weight_differing += got->second.scales != want.scales;
  }
  EXPECT_EQ(weights.size(), oracle.weights.size());
  std::printf("%s calibration: %lld of %zu activation quantizers and %lld of %zu weight scales differ\n", c.config,
              static_cast<long long>(differing), oracle.activations.size(), static_cast<long long>(weight_differing),
              oracle.weights.size());
  EXPECT_LE(differing, kMaxDifferingQuantizers);
  EXPECT_LE(weight_differing, kMaxDifferingWeightScales);
}

TEST_P(SwinOracleParity, FakeQuantIsExactTeacherForcedAndEndToEnd) {
  const OracleCase& c = GetParam();
  const std::string dir = oracle_dir(c);
  if (dir.empty()) GTEST_SKIP() << "no oracle output (the make_swin_oracle fixture needs python3-torch): skipped";
  const QuantState state = load_reference_qparams(dir + "/qparams.json", settings_of(c).lis_exp_shift);
  auto model = load_model(dir);
  model->set_numerics(Numerics::kTorch);
  state.check_complete(*model, dir);
  fake_quantize_weights(*model, state);
  const auto dump = SafetensorsFile::open(dir + "/dump.safetensors");
  const Tensor images = SafetensorsFile::open(dir + "/images.safetensors").load_float("eval");

  ForcedHooks forced(state, dump);
  model->forward(images, &forced);
  for (const auto& [name, bad] : forced.by_point) {
    std::printf("  %s: %lld differ\n", name.c_str(), static_cast<long long>(bad));
  }
  FakeQuantHooks hooks(state);
  const Tensor logits = model->forward(images, &hooks);
  const Tensor want = dump.load_float("logits");
  ASSERT_EQ(logits.shape(), want.shape());
  int64_t logit_mismatches = 0;
  for (int64_t i = 0; i < logits.numel(); ++i) logit_mismatches += logits[i] != want[i];
  std::printf("%s fake quant: teacher-forced %lld of %lld quantized values differ; end to end %lld of %lld logits\n",
              c.config, static_cast<long long>(forced.mismatches), static_cast<long long>(forced.total),
              static_cast<long long>(logit_mismatches), static_cast<long long>(logits.numel()));
  EXPECT_LE(forced.mismatches, kMaxForcedMismatches);
  EXPECT_LE(logit_mismatches, kMaxLogitMismatches);
}

INSTANTIATE_TEST_SUITE_P(Configs, SwinOracleParity,
                         ::testing::Values(OracleCase{"ptf_lis_w8a8attn4", true, 4},
                                           OracleCase{"ptf_w8a8attn8", false, 8}),
                         [](const ::testing::TestParamInfo<OracleCase>& param) {
                           return std::string(param.param.config);
                         });

}  // namespace
}  // namespace fqvit
