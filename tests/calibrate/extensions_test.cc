// The fqvit_plus extensions (extensions.h): config parsing and refusals; the extended PTF fit against a brute-force
// search written here; channel-input folding against its integer form (u8 codes with per-channel zero points times
// int8 weight codes, summed in int64); the wide integer LayerNorm against a double-precision LayerNorm; the model
// file round trip of every new field; the diagnosis' SQNR against a direct computation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/diagnosis.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/calibrate/observer.h"
#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/quant/int_layer_norm.h"
#include "test_paths.h"

namespace fqvit {
namespace {

// The wide LayerNorm's output may differ from the exact one by its 1-LSB rounding plus the 16-bit multiplier's
// relative error (2^-15 of a value of at most ~2^8 codes).
constexpr double kWideLnMaxLsb = 1.01;
// The corrected bias is a float32: the mean output it restores is exact up to float32 rounding of b' (|b'| < ~1).
constexpr double kBiasCorrectionMaxError = 1e-6;

const std::string kPlus = R"({"extensions": {"ptf_k": "auto", "ptf_zero_point": "channel", "branch_outputs": "ptf",
  "residual_bits": 16, "channel_inputs": ["gelu_output", "ln_output"], "observers": {"qkv": "omse"}}})";

void expect_error(const std::string& json, const std::string& needle) {
  try {
    parse_quant_settings(json, "test.json");
    ADD_FAILURE() << "no error for " << json;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Extensions, ParseAndRoundTrip) {
  const QuantSettings s = parse_quant_settings(kPlus, "plus");
  const Extensions& e = s.extensions;
  EXPECT_TRUE(e.ptf_k_auto);
  EXPECT_TRUE(e.ptf_channel_zero_point);
  EXPECT_TRUE(e.branch_ptf);
  EXPECT_EQ(e.residual_bits, 16);
  EXPECT_EQ(e.channel_inputs, (std::set<std::string>{"gelu_output", "ln_output"}));
  EXPECT_EQ(e.observers.at("qkv"), "omse");
  const QuantSettings back = parse_quant_settings(s.to_json(), "round trip");
  EXPECT_EQ(back.to_json(), s.to_json());
  // The paper presets have none on, and their recorded settings carry no "extensions" key.
  EXPECT_FALSE(QuantSettings{}.extensions.any());
  EXPECT_EQ(QuantSettings{}.to_json().find("extensions"), std::string::npos);
}

TEST(Extensions, RefusesBadValuesNamingTheField) {
  expect_error(R"({"extensions": {"ptf_k": 11}})", "extensions.ptf_k");
  expect_error(R"({"extensions": {"ptf_k": "big"}})", "extensions.ptf_k");
  expect_error(R"({"extensions": {"ptf_zero_point": "row"}})", "extensions.ptf_zero_point");
  expect_error(R"({"extensions": {"residual_bits": 17}})", "extensions.residual_bits");
  expect_error(R"({"extensions": {"channel_inputs": ["qkv"]}})", "extensions.channel_inputs");
  expect_error(R"({"extensions": {"observers": {"nonsense": "omse"}}})", "extensions.observers.nonsense");
  expect_error(R"({"extensions": {"observers": {"qkv": "ptf"}}})", "extensions.observers.qkv");
  expect_error(R"({"extensions": {"shiny": true}})", "extensions.shiny");
  expect_error(R"({"extensions": {"lis_logits": "fine"}})", "extensions.lis_logits");
  expect_error(R"({"extensions": {"bias_correction": "yes"}})", "extensions");
}

TEST(Extensions, PointClassesAndConsumers) {
  EXPECT_EQ(point_class("blocks.3.mlp.qact2", ModelFamily::kVit), "branch_output");
  EXPECT_EQ(point_class("blocks.3.attn.qact3", ModelFamily::kVit), "branch_output");
  EXPECT_EQ(point_class("layers.1.blocks.0.attn.qact4", ModelFamily::kSwin), "branch_output");
  EXPECT_EQ(point_class("layers.1.blocks.0.attn.qact3", ModelFamily::kSwin), "attn_v");
  EXPECT_EQ(point_class("blocks.3.qact4", ModelFamily::kVit), "residual");
  EXPECT_EQ(point_class("blocks.3.mlp.qact1", ModelFamily::kVit), "gelu_output");
  EXPECT_EQ(consuming_linears("blocks.3.mlp.qact1", ModelFamily::kVit), std::vector<std::string>{"blocks.3.mlp.fc2"});
  EXPECT_EQ(consuming_linears("qact2", ModelFamily::kVit), (std::vector<std::string>{"head", "head_dist"}));
  EXPECT_EQ(consuming_linears("layers.2.downsample.qact1", ModelFamily::kSwin),
            std::vector<std::string>{"layers.2.downsample.reduction"});
  EXPECT_TRUE(consuming_linears("blocks.3.qact4", ModelFamily::kVit).empty());
}

// Channels of very different ranges (one massive, as ViT-Tiny's channel 41) and offsets.
std::vector<float> outlier_data(int64_t rows, int64_t channels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * channels));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < channels; ++c) {
      const float spread = c == 5 ? 150.0f : 0.5f + static_cast<float>(c % 7);
      const float offset = c == 5 ? -300.0f : static_cast<float>(c % 3);
      x[static_cast<size_t>(r * channels + c)] = offset + spread * n(rng);
    }
  }
  return x;
}

TEST(Extensions, PtfFitMatchesBruteForceSearch) {
  const int64_t rows = 300, channels = 24;
  const std::vector<float> x = outlier_data(rows, channels, 7);
  auto obs = make_ptf_observer(kUint8, PtfOptions{kPtfMaxAlpha, true, true});
  obs->update(x.data(), rows, channels);
  const auto fitted = obs->fit(x.data(), rows, channels);
  const PtfParams& p = static_cast<const PtfQuantizer&>(*fitted).params();
  // The test's own computation of what the extension promises.
  std::vector<double> lo(channels, 1e30), hi(channels, -1e30), range(channels);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < channels; ++c) {
      lo[c] = std::min(lo[c], static_cast<double>(x[r * channels + c]));
      hi[c] = std::max(hi[c], static_cast<double>(x[r * channels + c]));
    }
  }
  for (int64_t c = 0; c < channels; ++c) range[c] = std::max(hi[c], 0.0) - std::min(lo[c], 0.0);
  std::vector<double> sorted = range;
  std::nth_element(sorted.begin(), sorted.begin() + channels / 2, sorted.end());
  const double widest = *std::max_element(range.begin(), range.end());
  const int k = std::clamp(static_cast<int>(std::ceil(std::log2(widest / sorted[channels / 2]))), 3, kPtfMaxK);
  EXPECT_NEAR(p.scale1, widest / 255.0 / std::exp2(k), 1e-6 * p.scale1);
  ASSERT_EQ(p.zero_points.size(), static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    double best = 1e300;
    int best_a = 0;
    int32_t best_zp = 0;
    for (int a = 0; a <= k; ++a) {
      const double s = static_cast<double>(p.scale1) * std::exp2(a);
      const int32_t zp = static_cast<int32_t>(std::clamp(-std::nearbyint(std::min(lo[c], 0.0) / s), 0.0, 255.0));
      double err = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double v = x[r * channels + c];
        const double q = std::clamp(std::nearbyint(v / s + zp), 0.0, 255.0);
        err += (v - (q - zp) * s) * (v - (q - zp) * s);
      }
      if (err < best * (1 - 1e-9)) best = err, best_a = a, best_zp = zp;
    }
    EXPECT_EQ(p.alpha[static_cast<size_t>(c)], best_a) << "channel " << c;
    EXPECT_EQ(p.zero_points[static_cast<size_t>(c)], best_zp) << "channel " << c;
  }
  EXPECT_EQ(p.alpha[5], k);  // the massive channel takes the coarsest scale
}

TEST(Extensions, ReferencePtfOptionsAreTheReferenceFit) {
  const int64_t rows = 200, channels = 16;
  const std::vector<float> x = outlier_data(rows, channels, 3);
  auto ref = make_observer("ptf", kUint8);
  auto ext = make_ptf_observer(kUint8, PtfOptions{});
  ref->update(x.data(), rows, channels);
  ext->update(x.data(), rows, channels);
  const auto a = ref->fit(x.data(), rows, channels), b = ext->fit(x.data(), rows, channels);
  const auto& pa = static_cast<const PtfQuantizer&>(*a).params();
  const auto& pb = static_cast<const PtfQuantizer&>(*b).params();
  EXPECT_EQ(pa.scale1, pb.scale1);
  EXPECT_EQ(pa.zero_point, pb.zero_point);
  EXPECT_EQ(pa.alpha, pb.alpha);
  EXPECT_TRUE(pb.zero_points.empty());
}

TEST(Extensions, WideLayerNormFollowsDoubleLayerNorm) {
  const int64_t rows = 40, channels = 48;
  std::vector<float> x = outlier_data(rows, channels, 11);
  auto obs = make_ptf_observer(BitType{16, false}, PtfOptions{kPtfMaxAlpha, true, true});
  obs->update(x.data(), rows, channels);
  const auto q = obs->fit(x.data(), rows, channels);
  q->fake_quant(x.data(), rows, channels);
  for (int64_t c = 0; c < channels; ++c) x[static_cast<size_t>(5 * channels + c)] = 0.0f;  // a constant row: std = 0
  const std::vector<float> in_scales = q->channel_scales();
  std::vector<float> gamma(channels), beta(channels), out_scales(channels);
  for (int64_t c = 0; c < channels; ++c) {
    gamma[c] = 0.5f + 0.05f * static_cast<float>(c);
    beta[c] = -0.3f + 0.02f * static_cast<float>(c);
    out_scales[c] = 0.02f * std::exp2(static_cast<float>(c % 3));  // per-channel output factors
  }
  std::vector<float> y(x.size());
  int_layer_norm_wide(x.data(), rows, channels, in_scales.data(), channels, out_scales.data(), channels,
                      gamma.data(), beta.data(), y.data());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < channels; ++c) mean += x[r * channels + c];
    mean /= channels;
    for (int64_t c = 0; c < channels; ++c) var += (x[r * channels + c] - mean) * (x[r * channels + c] - mean);
    var /= channels;
    for (int64_t c = 0; c < channels; ++c) {
      const double exact = var == 0 ? beta[c] : (x[r * channels + c] - mean) / std::sqrt(var) * gamma[c] + beta[c];
      const double got = y[r * channels + c];
      EXPECT_LE(std::fabs(got - exact) / out_scales[c], var == 0 ? 0.5 : kWideLnMaxLsb)
          << "row " << r << " channel " << c;
      EXPECT_NEAR(std::nearbyint(got / out_scales[c]), got / out_scales[c], 1e-4);  // on the output grid
    }
  }
}

// Calibrates the committed small ViT with every extension on.
struct PlusModel {
  std::string dir = testing::source_dir() + "/tests/data/models/vit_small_random_committed";
  std::unique_ptr<VisionModel> model = load_model(dir);
  Tensor input = SafetensorsFile::open(dir + "/golden.safetensors").load_float("input");
  QuantState state;
  PlusModel() {
    Calibrator calib(*model, parse_quant_settings(kPlus, "plus"));
    calib.observe(input, true);
    state = calib.finish();
  }
};

TEST(Extensions, ChannelInputFoldingIsTheIntegerGemm) {
  PlusModel m;
  // fc2 of block 0 reads the GELU output with per-channel factors: its fake-quant linear must equal the integer
  // form sum_c Wq[o, c] (q_c - zp_c) in int64, times scale_o * s1.
  const auto& act = static_cast<const PtfQuantizer&>(*m.state.activations.at("blocks.0.mlp.qact1")).params();
  const WeightQuant& wq = m.state.weights.at("blocks.0.mlp.fc2");
  ASSERT_EQ(wq.input_exponent.size(), act.alpha.size());
  for (size_t c = 0; c < act.alpha.size(); ++c) ASSERT_EQ(wq.input_exponent[c], act.alpha[c]);
  WeightRef fc2;
  for (const WeightRef& w : m.model->weights()) {
    if (w.name == "blocks.0.mlp.fc2") fc2 = w;
  }
  const int64_t out = fc2.weight->dim(0), k = fc2.weight->dim(1);
  Tensor folded = *fc2.weight;
  for (int64_t i = 0; i < folded.numel(); ++i) folded[i] = std::ldexp(folded[i], wq.input_exponent[i % k]);
  std::vector<int8_t> codes(static_cast<size_t>(folded.numel()));
  quantize_weight(folded.data(), out, k, wq.scales.data(), wq.bit_type, codes.data());
  auto fq_model = m.model->clone();
  fake_quantize_weights(*fq_model, m.state);
  const Tensor* fq_w = nullptr;
  for (const WeightRef& w : fq_model->weights()) {
    if (w.name == "blocks.0.mlp.fc2") fq_w = w.weight;
  }
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> code(0, 255);
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<int32_t> q(static_cast<size_t>(k));
    std::vector<float> xdeq(static_cast<size_t>(k));
    for (int64_t c = 0; c < k; ++c) {
      q[c] = code(rng);
      xdeq[c] = (static_cast<float>(q[c]) - static_cast<float>(act.zero_points[c])) * act.channel_scale(c);
    }
    for (int64_t o = 0; o < out; ++o) {
      int64_t acc = 0;
      double fake = 0;
      for (int64_t c = 0; c < k; ++c) {
        acc += int64_t{codes[o * k + c]} * (q[c] - act.zero_points[c]);
        fake += static_cast<double>((*fq_w)[o * k + c]) * xdeq[c];
      }
      const double integer = static_cast<double>(acc) * wq.scales[o] * act.scale1;
      ASSERT_NEAR(fake, integer, 1e-4 * (1 + std::fabs(integer))) << "row " << o;
    }
  }
}

TEST(Extensions, ModelFileRoundTripsEveryExtensionField) {
  PlusModel m;
  const std::string path = testing::scratch_dir("extensions_file") + "/plus.safetensors";
  CalibrationInfo info;
  info.order = "test";
  save_quantized_model(path, m.dir, *m.model, m.state, info);
  EXPECT_EQ(SafetensorsFile::open(path).metadata().at("format_version"), std::to_string(kQuantFormatVersion));
  const QuantizedModel back = read_quantized_model(path);
  EXPECT_EQ(back.state.settings.to_json(), m.state.settings.to_json());
  for (const auto& [name, w] : m.state.weights) {
    EXPECT_EQ(back.state.weights.at(name).input_exponent, w.input_exponent) << name;
    EXPECT_EQ(back.state.weights.at(name).scales, w.scales) << name;
  }
  int channel_zero_points = 0, wide = 0;
  for (const auto& [name, q] : m.state.activations) {
    const auto& b = *back.state.activations.at(name);
    EXPECT_EQ(b.summary(), q->summary()) << name;
    if (q->kind() == "ptf") {
      const auto& pa = static_cast<const PtfQuantizer&>(*q).params();
      EXPECT_EQ(static_cast<const PtfQuantizer&>(b).params().zero_points, pa.zero_points) << name;
      channel_zero_points += !pa.zero_points.empty();
      wide += pa.bit_type.bits == 16;
    }
  }
  EXPECT_GT(channel_zero_points, 0);
  EXPECT_GT(wide, 0);
  // The file's fake-quant logits are the in-memory state's, bit for bit.
  auto float_model = load_model(m.dir);
  FakeQuantModel direct(std::move(float_model), std::move(m.state));
  const auto loaded = load_fake_quant_model(path, Numerics::kFast);
  const Tensor a = direct.forward(m.input), b = loaded->forward(m.input);
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

// Records the FP32 values at one activation point (a float forward pass: nothing is changed).
struct RecordPoint final : QuantHooks {
  std::string point;
  std::vector<float> values;
  int64_t channels = 0;
  void activation(const std::string& name, float* x, int64_t rows, int64_t c) override {
    if (name != point) return;
    values.insert(values.end(), x, x + rows * c);
    channels = c;
  }
};

// bias_correction: the file's corrected bias removes the mean output error of the quantized weight on the
// calibration inputs, sum_t (W_q x_t + b') = sum_t (W x_t + b), in double against the FP32 inputs recorded here and
// the weight dequantized from the file's codes (fc2 of block 0: its input factors folded too).
TEST(Extensions, BiasCorrectionRemovesTheMeanWeightError) {
  PlusModel m;
  // No LIS: its last calibration batch would run Log-Int-Softmax, so the means would not be the plain FP32 pass's.
  const std::string json = R"({"lis": false, "extensions": {"channel_inputs": ["gelu_output"], "bias_correction": true,
                               "lis_logits": "refined"}})";
  auto model = load_model(m.dir);
  RecordPoint rec;
  rec.point = "blocks.0.mlp.qact1";
  model->clone()->forward(m.input, &rec);
  Calibrator calib(*model, parse_quant_settings(json, "bias"));
  calib.observe(m.input, true);
  QuantState state = calib.finish();
  const std::string path = testing::scratch_dir("extensions_bias") + "/bias.safetensors";
  CalibrationInfo info;
  info.order = "test";
  save_quantized_model(path, m.dir, *model, state, info);
  const QuantizedModel back = read_quantized_model(path);
  EXPECT_EQ(back.state.settings.to_json(), state.settings.to_json());
  WeightRef fc2, fc2_q;
  for (const WeightRef& w : model->weights()) if (w.name == "blocks.0.mlp.fc2") fc2 = w;
  for (const WeightRef& w : back.model->weights()) if (w.name == "blocks.0.mlp.fc2") fc2_q = w;
  ASSERT_NE(fc2.bias, nullptr);
  ASSERT_NE(fc2_q.bias, nullptr);
  const int64_t out = fc2.weight->dim(0), k = fc2.weight->dim(1);
  ASSERT_EQ(rec.channels, k);
  const int64_t tokens = static_cast<int64_t>(rec.values.size()) / k;
  double worst = 0, moved = 0;
  for (int64_t o = 0; o < out; ++o) {
    double fp = 0, q = 0;
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t c = 0; c < k; ++c) {
        const double x = rec.values[static_cast<size_t>(t * k + c)];
        fp += static_cast<double>((*fc2.weight)[o * k + c]) * x;
        q += static_cast<double>((*fc2_q.weight)[o * k + c]) * x;
      }
    }
    fp = fp / static_cast<double>(tokens) + static_cast<double>((*fc2.bias)[o]);
    q = q / static_cast<double>(tokens) + static_cast<double>((*fc2_q.bias)[o]);
    worst = std::max(worst, std::fabs(q - fp));
    moved = std::max(moved, std::fabs(static_cast<double>((*fc2_q.bias)[o]) - static_cast<double>((*fc2.bias)[o])));
  }
  EXPECT_LT(worst, kBiasCorrectionMaxError) << "largest bias change " << moved;
  EXPECT_GT(moved, 10 * kBiasCorrectionMaxError) << "the correction must move the bias measurably";
  // Without the extension the biases are the checkpoint's.
  PlusModel plain;
  for (const auto& [name, w] : plain.state.weights) EXPECT_TRUE(w.bias.empty()) << name;
}

TEST(Extensions, DiagnosisSqnrIsTheDirectOne) {
  PlusModel m;
  const DiagnosisReport r = diagnose_quantizers(*m.model, m.state, {m.input});
  EXPECT_EQ(r.images, m.input.dim(0));
  EXPECT_EQ(r.rows.size(), m.model->activation_points().size() + m.model->weights().size());
  for (size_t i = 1; i < r.rows.size(); ++i) EXPECT_LE(r.rows[i - 1].own_sqnr_db, r.rows[i].own_sqnr_db);
  for (const QuantizerDiagnosis& d : r.rows) {
    EXPECT_GE(d.own_cosine, -1.0);
    EXPECT_LE(d.own_cosine, 1.0 + 1e-12);
    if (d.kind != "weight") continue;
    for (const WeightRef& w : m.model->weights()) {
      if (w.name != d.name) continue;
      const WeightQuant& q = m.state.weights.at(w.name);
      const int64_t k = w.weight->numel() / w.weight->dim(0);
      double sig = 0, noise = 0;
      for (int64_t i = 0; i < w.weight->numel(); ++i) {
        const float v = (*w.weight)[i];
        const int e2 = q.input_exponent.empty() ? 0 : q.input_exponent[static_cast<size_t>(i % k)];
        const QParams qp{q.scales[static_cast<size_t>(i / k)], 0};
        const double e = v - std::ldexp(fake_quant(std::ldexp(v, e2), qp, q.bit_type), -e2);
        sig += static_cast<double>(v) * v, noise += e * e;
      }
      EXPECT_NEAR(d.own_sqnr_db, 10 * std::log10(sig / noise), 1e-6) << d.name;
    }
  }
}

}  // namespace
}  // namespace fqvit
