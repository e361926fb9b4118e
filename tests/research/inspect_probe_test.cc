// fqvit-inspect's measurements against independent references: the PTF observer's own channel ranges, closed-form
// SQNR / cosine, the softmax's and the quantizers' invariants (rows sum to 1, LIS gives powers of two, the uniform
// quantizer its grid), and the 6 dB per bit of uniform quantization.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/io/dataset.h"
#include "fqvit/research/activation_probe.h"
#include "fqvit/research/calibration_run.h"
#include "fqvit/research/quantizer_error.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int kProbeImages = 6;
constexpr double kRowSumTolerance = 1e-5;   // float softmax rows
constexpr double kDbPerBitLow = 4.5;        // uniform quantization gains ~6.02 dB per bit on smooth data;
constexpr double kDbPerBitHigh = 7.5;       // weights with outliers and per-channel absmax stay near it

std::string demo(const std::string& p) { return testing::source_dir() + "/demo/" + p; }

class InspectProbe : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = load_model(demo("models/vit_micro"));
    model_->set_numerics(Numerics::kTorch);
    auto folder = ImageFolder::open(demo("data/calib"), {demo("data/classes.txt"), ""});
    std::vector<LabeledImage> list(folder.images().begin(), folder.images().begin() + kProbeImages);
    BatchLoader loader(list, model_->config().preprocess, kProbeImages);
    Batch batch;
    ASSERT_TRUE(loader.next(&batch));
    images_ = batch.images;
    request_.model = demo("models/vit_micro");
    request_.calib = demo("data/calib");
    request_.class_list = demo("data/classes.txt");
    request_.images = 100;
    request_.batch = 100;
  }
  std::unique_ptr<VisionModel> model_;
  Tensor images_;
  CalibrationRequest request_;
};

TEST_F(InspectProbe, LayerNormInputRangesEqualThePtfObserversOwn) {
  const auto ranges = layer_norm_input_ranges(*model_, images_);
  ASSERT_EQ(ranges.size(), 1u + 2u * 4u);  // qact1, then qact2 and qact4 of each of the 4 blocks
  QuantSettings settings;
  settings.lis = false;  // LIS would change the last batch's statistics (hooks.h); the float pass is the reference
  Calibrator calibrator(*model_, settings);
  calibrator.observe(images_, /*last=*/true);
  for (const ChannelRange& r : ranges) {
    const Observer* observer = calibrator.hooks().observer(r.point);
    ASSERT_NE(observer, nullptr) << r.point;
    EXPECT_EQ(r.min, observer->observed_min()) << r.point;
    EXPECT_EQ(r.max, observer->observed_max()) << r.point;
    EXPECT_EQ(r.min.size(), static_cast<size_t>(model_->config().embed_dim));
  }
}

TEST_F(InspectProbe, AttentionMapsAreSoftmaxRowsLisPowersOfTwoAndUniformGridPoints) {
  const std::string point = "blocks.1.attn.log_int_softmax";
  Tensor one({1, images_.dim(1), images_.dim(2), images_.dim(3)});
  std::copy(images_.data(), images_.data() + one.numel(), one.data());
  const int64_t tokens = 1 + (32 / 4) * (32 / 4);

  const AttentionMaps fp32 = capture_attention(*model_, nullptr, one, point);
  ASSERT_EQ(fp32.tokens, tokens);
  ASSERT_EQ(fp32.maps, model_->config().num_heads);
  for (int64_t r = 0; r < fp32.maps * tokens; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < tokens; ++c) sum += fp32.probabilities[static_cast<size_t>(r * tokens + c)];
    ASSERT_NEAR(sum, 1.0, kRowSumTolerance) << "row " << r;
  }

  QuantSettings lis_settings;  // MinMax + PTF + LIS, attention 4 bits
  const CalibrationOutcome lis = calibrate(*model_, lis_settings, request_);
  const AttentionMaps l = capture_attention(*model_, &lis.state, one, point);
  std::set<int> exponents;
  for (float p : l.probabilities) {
    if (p == 0) continue;
    int e = 0;
    ASSERT_EQ(std::frexp(p, &e), 0.5f) << p << " is not a power of two";
    exponents.insert(e - 1);
  }
  EXPECT_LE(*exponents.rbegin(), 0);
  EXPECT_GE(*exponents.begin(), -15);  // 4-bit codes k = 0..15 mean 2^-k

  QuantSettings uniform_settings = lis_settings;
  uniform_settings.lis = false;
  const CalibrationOutcome uniform = calibrate(*model_, uniform_settings, request_);
  const AttentionMaps u = capture_attention(*model_, &uniform.state, one, point);
  std::set<float> levels(u.probabilities.begin(), u.probabilities.end());
  EXPECT_LE(levels.size(), 16u) << "a 4-bit uniform quantizer has at most 16 levels";
  EXPECT_GE(levels.size(), 2u);
}

TEST(ErrorSums, ClosedForm) {
  const float x[] = {3, -4, 0, 1};
  const float q[] = {3, -3, 0, 2};
  ErrorSums s;
  s.add(x, q, 4);
  // signal 9 + 16 + 0 + 1 = 26, noise 0 + 1 + 0 + 1 = 2; dot 9 + 12 + 0 + 2 = 23, |q|^2 = 9 + 9 + 0 + 4 = 22
  EXPECT_DOUBLE_EQ(s.sqnr_db(), 10 * std::log10(26.0 / 2.0));
  EXPECT_DOUBLE_EQ(s.cosine(), 23.0 / std::sqrt(26.0 * 22.0));
  ErrorSums exact;
  exact.add(x, x, 4);
  EXPECT_TRUE(std::isinf(exact.sqnr_db()));
  EXPECT_DOUBLE_EQ(exact.cosine(), 1.0);
}

TEST_F(InspectProbe, QuantizerErrorsCoverEveryQuantizerWorstFirstAndFollowTheBits) {
  QuantSettings w8;
  const CalibrationOutcome state8 = calibrate(*model_, w8, request_);
  const auto errors = measure_quantizer_errors(*model_, state8.state, images_);
  std::set<std::string> names;
  for (const auto& e : errors) names.insert(e.name);
  for (const auto& p : model_->activation_points()) EXPECT_TRUE(names.count(p)) << p;
  for (const auto& w : model_->weights()) EXPECT_TRUE(names.count(w.name)) << w.name;
  for (size_t i = 1; i < errors.size(); ++i) EXPECT_LE(errors[i - 1].sqnr_fp32_db, errors[i].sqnr_fp32_db);
  for (const auto& e : errors) {
    EXPECT_GT(e.cosine_fp32, 0.5) << e.name;
    EXPECT_LE(e.cosine_fp32, 1.0 + 1e-12) << e.name;
  }

  QuantSettings w4 = w8;
  w4.w_bits = 4;
  const CalibrationOutcome state4 = calibrate(*model_, w4, request_);
  const auto errors4 = measure_quantizer_errors(*model_, state4.state, images_);
  const auto find = [](const std::vector<QuantizerError>& v, const std::string& name) {
    for (const auto& e : v) {
      if (e.name == name) return e;
    }
    return QuantizerError{};
  };
  for (const auto& w : model_->weights()) {
    const double gain = find(errors, w.name).sqnr_db - find(errors4, w.name).sqnr_db;
    EXPECT_GT(gain, 4 * kDbPerBitLow) << w.name << ": 4 more bits gained " << gain << " dB";
    EXPECT_LT(gain, 4 * kDbPerBitHigh) << w.name << ": 4 more bits gained " << gain << " dB";
  }
}

}  // namespace
}  // namespace fqvit
