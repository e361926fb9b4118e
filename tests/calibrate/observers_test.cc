// Observers against tests/quant/data/quant_goldens.safetensors (the reference formulas in torch, see
// scripts/quant/make_quant_goldens.py) and against closed-form cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fqvit/calibrate/observer.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int kObsBatches = 4;
constexpr int kPtfBatches = 3;

SafetensorsFile goldens() {
  return SafetensorsFile::open(testing::source_dir() + "/tests/quant/data/quant_goldens.safetensors");
}

std::unique_ptr<Observer> observe(const std::string& name, const SafetensorsFile& g, std::vector<Tensor>* batches) {
  auto obs = make_observer(name, kUint8);
  for (int i = 0; i < kObsBatches; ++i) {
    batches->push_back(g.load_float("obs.batch" + std::to_string(i)));
    obs->update(batches->back().data(), batches->back().numel(), 1);
  }
  return obs;
}

TEST(Observers, EmaMatchesTorch) {
  const auto g = goldens();
  std::vector<Tensor> b;
  const auto obs = observe("ema", g, &b);
  const Tensor want = g.load_float("ema.minmax");
  EXPECT_EQ(obs->observed_min()[0], want[0]);
  EXPECT_EQ(obs->observed_max()[0], want[1]);
}

TEST(Observers, PercentileMatchesTorchQuantile) {
  const auto g = goldens();
  std::vector<Tensor> b;
  const auto obs = observe("percentile", g, &b);
  const Tensor want = g.load_float("percentile.minmax");
  EXPECT_EQ(obs->observed_min()[0], want[0]);
  EXPECT_EQ(obs->observed_max()[0], want[1]);
  std::vector<float> scratch;
  const Tensor single = g.load_float("percentile.single");
  EXPECT_EQ(quantile(b[1].data(), b[1].numel(), 1.0 - kPercentileAlpha, scratch), single[0]);
  EXPECT_EQ(quantile(b[1].data(), b[1].numel(), kPercentileAlpha, scratch), single[1]);
}

TEST(Observers, OmseMatchesTorch) {
  const auto g = goldens();
  std::vector<Tensor> b;
  const auto obs = observe("omse", g, &b);
  const auto q = obs->fit(b.back().data(), b.back().numel(), 1);
  const Tensor want = g.load_float("omse.qparams");
  const auto& u = static_cast<const UniformQuantizer&>(*q);
  EXPECT_EQ(u.qparams().scale, want[0]);
  EXPECT_EQ(static_cast<float>(u.qparams().zero_point), want[1]);
}

TEST(Observers, PtfMatchesTorch) {
  const auto g = goldens();
  auto obs = make_observer("ptf", kUint8);
  Tensor last;
  for (int i = 0; i < kPtfBatches; ++i) {
    last = g.load_float("ptf.batch" + std::to_string(i));
    obs->update(last.data(), last.numel() / last.dim(-1), last.dim(-1));
  }
  const auto q = obs->fit(last.data(), last.numel() / last.dim(-1), last.dim(-1));
  const auto& p = static_cast<const PtfQuantizer&>(*q).params();
  EXPECT_EQ(p.scale1, g.load_float("ptf.scale1")[0]);
  EXPECT_EQ(static_cast<float>(p.zero_point), g.load_float("ptf.zp")[0]);
  const auto alpha = g.bytes("ptf.alpha");
  ASSERT_EQ(p.alpha.size() * 4, alpha.size());
  for (size_t c = 0; c < p.alpha.size(); ++c) {
    EXPECT_EQ(p.alpha[c], reinterpret_cast<const int32_t*>(alpha.data())[c]) << "channel " << c;
  }
}

// Closed forms: MinMax over batches {-1, 2} and {0.5, 3}: range [-1, 3], s = 4/255, zp = round(255/4) = 64.
TEST(Observers, MinMaxClosedForm) {
  auto obs = make_observer("minmax", kUint8);
  const float a[] = {-1.0f, 2.0f}, b[] = {0.5f, 3.0f};
  obs->update(a, 2, 1);
  obs->update(b, 2, 1);
  const auto q = obs->fit(b, 2, 1);
  const QParams qp = static_cast<const UniformQuantizer&>(*q).qparams();
  EXPECT_EQ(qp.scale, 4.0f / 255.0f);
  EXPECT_EQ(qp.zero_point, 64);
  // real = scale * (q - zp): -1 is code 0... within half a step.
  EXPECT_EQ(quantize(-1.0f, qp, kUint8), 0);
  EXPECT_EQ(quantize(3.0f, qp, kUint8), 255);
}

// EMA on constant batches: max 1, then 2: 1 + 0.01 (2 - 1) = 1.01.
TEST(Observers, EmaClosedForm) {
  auto obs = make_observer("ema", kUint8);
  const float a[] = {0.0f, 1.0f}, b[] = {0.0f, 2.0f};
  obs->update(a, 2, 1);
  obs->update(b, 2, 1);
  EXPECT_FLOAT_EQ(obs->observed_max()[0], 1.01f);
  EXPECT_EQ(obs->observed_min()[0], 0.0f);
}

// Quantile with linear interpolation: q = 0.5 of {1, 2, 3, 4} is 2.5.
TEST(Observers, QuantileInterpolates) {
  const float x[] = {4, 1, 3, 2};
  std::vector<float> scratch;
  EXPECT_EQ(quantile(x, 4, 0.5, scratch), 2.5f);
  EXPECT_EQ(quantile(x, 4, 0.0, scratch), 1.0f);
  EXPECT_EQ(quantile(x, 4, 1.0, scratch), 4.0f);
}

// PTF: a channel 8x wider than the rest gets alpha 3, the narrow ones alpha 0.
TEST(Observers, PtfPicksWideChannelFactor) {
  auto obs = make_observer("ptf", kUint8);
  std::vector<float> x;
  for (int r = 0; r < 64; ++r) {
    const float t = static_cast<float>(r) / 63.0f * 2.0f - 1.0f;  // [-1, 1]
    x.push_back(t);
    x.push_back(8.0f * t);
  }
  obs->update(x.data(), 64, 2);
  const auto q = obs->fit(x.data(), 64, 2);
  const auto& p = static_cast<const PtfQuantizer&>(*q).params();
  EXPECT_EQ(p.alpha[0], 0);
  EXPECT_EQ(p.alpha[1], 3);
}

TEST(Observers, UnknownNameIsAnError) {
  EXPECT_THROW(make_observer("kl", kUint8), Error);
}

TEST(Plan, RolesOfReferenceNames) {
  EXPECT_EQ(activation_role("qact1"), QuantRole::kResidual);
  EXPECT_EQ(activation_role("blocks.3.qact2"), QuantRole::kResidual);
  EXPECT_EQ(activation_role("blocks.3.qact4"), QuantRole::kResidual);
  EXPECT_EQ(activation_role("blocks.3.qact1"), QuantRole::kActivation);
  EXPECT_EQ(activation_role("blocks.3.attn.qact2"), QuantRole::kActivation);
  EXPECT_EQ(activation_role("blocks.3.mlp.qact2"), QuantRole::kActivation);
  EXPECT_EQ(activation_role("blocks.3.attn.log_int_softmax"), QuantRole::kAttention);
  EXPECT_EQ(activation_role("layers.2.blocks.5.qact4"), QuantRole::kResidual);
  EXPECT_EQ(activation_role("layers.2.downsample.qact2"), QuantRole::kResidual);
  EXPECT_EQ(activation_role("layers.2.downsample.qact1"), QuantRole::kActivation);
  EXPECT_EQ(activation_role("patch_embed.qact"), QuantRole::kActivation);
}

TEST(Plan, SettingsJsonAndValidation) {
  const QuantSettings s = parse_quant_settings(
      R"({"method": "omse", "lis": false, "bits": {"weight": 6, "attention": 8}, "layers": {"head": {"bits": 8}}})",
      "test.json");
  EXPECT_EQ(s.method, "omse");
  EXPECT_FALSE(s.lis);
  EXPECT_TRUE(s.ptf);
  EXPECT_EQ(s.w_bits, 6);
  EXPECT_EQ(s.attn_bits, 8);
  EXPECT_EQ(*s.layers.at("head").bits, 8);
  EXPECT_THROW(parse_quant_settings(R"({"bits": {"weight": 9}})", "t.json"), Error);
  EXPECT_THROW(parse_quant_settings(R"({"bits": {"activation": 1}})", "t.json"), Error);
  EXPECT_THROW(parse_quant_settings(R"({"method": "kl"})", "t.json"), Error);
  EXPECT_THROW(parse_quant_settings(R"({"methd": "minmax"})", "t.json"), Error);
  // Round trip.
  const QuantSettings r = parse_quant_settings(s.to_json(), "roundtrip");
  EXPECT_EQ(r.to_json(), s.to_json());
}

}  // namespace
}  // namespace fqvit

namespace fqvit {
namespace {

// The tail selection and the nth_element path agree with a full sort and torch's interpolation for every q.
TEST(Observers, QuantileMatchesFullSort) {
  std::vector<float> x(20011);
  uint32_t state = 12345;
  for (float& v : x) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / 65536.0f - 128.0f;
  }
  std::vector<float> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  std::vector<float> scratch;
  for (double q : {0.0, 1e-5, 0.001, 0.3, 0.5, 0.97, 1.0 - 1e-5, 1.0}) {
    const float rank = static_cast<float>(q) * static_cast<float>(x.size() - 1);
    const auto below = static_cast<size_t>(rank);
    const auto above = static_cast<size_t>(std::ceil(rank));
    const float w = rank - static_cast<float>(below);
    const float a = sorted[below], b = sorted[above];
    const float want = w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
    EXPECT_EQ(quantile(x.data(), static_cast<int64_t>(x.size()), q, scratch), want) << "q " << q;
  }
}

}  // namespace
}  // namespace fqvit
