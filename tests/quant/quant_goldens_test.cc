// The quantizer math against goldens made by scripts/quant/make_quant_goldens.py: the FQ-ViT reference formulas run
// with torch's own float32 operations on seeded random data. Everything here is expected to match bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fqvit/io/safetensors.h"
#include "fqvit/numerics/cascade_sum.h"
#include "fqvit/quant/fake_quant.h"
#include "fqvit/quant/int_layer_norm.h"
#include "fqvit/quant/log_int_softmax.h"
#include "fqvit/quant/ptf.h"
#include "fqvit/quant/qparams.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int kSumCases = 13;          // lengths in the generator

SafetensorsFile goldens() {
  return SafetensorsFile::open(testing::source_dir() + "/tests/quant/data/quant_goldens.safetensors");
}

void expect_same(const float* got, const Tensor& want, const std::string& what) {
  int64_t bad = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const bool same = (std::isnan(got[i]) && std::isnan(want[i])) || got[i] == want[i];
    if (!same && bad++ < 5) ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

TEST(TorchSum, MatchesTorchOrderBitExactly) {
  const auto g = goldens();
  const Tensor want = g.load_float("sum.result");
  for (int i = 0; i < kSumCases; ++i) {
    const Tensor x = g.load_float("sum.x" + std::to_string(i));
    EXPECT_EQ(torch_sum(x.data(), x.numel()), want[i]) << "length " << x.numel();
  }
}

TEST(Uniform, ActivationQParamsAndFakeQuant) {
  const auto g = goldens();
  const Tensor x = g.load_float("act.x");
  float mn = x[0], mx = x[0];
  for (int64_t i = 0; i < x.numel(); ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
  for (int bits : {8, 4, 2}) {
    const std::string p = "act.b" + std::to_string(bits);
    const BitType bt{bits, false};
    const QParams qp = activation_qparams(mn, mx, bt);
    EXPECT_EQ(qp.scale, g.load_float(p + ".scale")[0]);
    EXPECT_EQ(static_cast<float>(qp.zero_point), g.load_float(p + ".zp")[0]);
    Tensor y = x;
    fake_quant_inplace(y.data(), y.numel(), qp, bt);
    expect_same(y.data(), g.load_float(p + ".fq"), p);
  }
}

TEST(Uniform, WeightPerChannelSymmetric) {
  const auto g = goldens();
  const Tensor w = g.load_float("weight.w");
  for (int bits : {8, 6, 3}) {
    const std::string p = "weight.b" + std::to_string(bits);
    const BitType bt{bits, true};
    std::vector<float> scales(static_cast<size_t>(w.dim(0)));
    weight_channel_scales(w.data(), w.dim(0), w.dim(1), bt, scales.data());
    expect_same(scales.data(), g.load_float(p + ".scale"), p + ".scale");
    Tensor y = w;
    fake_quant_weight(y.data(), w.dim(0), w.dim(1), scales.data(), bt);
    expect_same(y.data(), g.load_float(p + ".fq"), p + ".fq");
  }
}

TEST(IntLayerNorm, PtfAndPerTensorInputs) {
  const auto g = goldens();
  const Tensor gamma = g.load_float("ln.gamma"), beta = g.load_float("ln.beta");
  const float out_scale = g.load_float("ln.out_scale")[0];
  {
    const Tensor x = g.load_float("ptf.fq");
    const int64_t c = x.dim(-1);
    PtfParams p;
    p.scale1 = g.load_float("ptf.scale1")[0];
    p.zero_point = static_cast<int32_t>(g.load_float("ptf.zp")[0]);
    const auto alpha = g.bytes("ptf.alpha");
    for (int64_t i = 0; i < c; ++i) p.alpha.push_back(static_cast<uint8_t>(reinterpret_cast<const int32_t*>(alpha.data())[i]));
    const std::vector<float> scales = p.channel_scales();
    Tensor y(x.shape());
    int_layer_norm_reference(x.data(), x.numel() / c, c, scales.data(), c, out_scale, gamma.data(), beta.data(),
                             y.data());
    expect_same(y.data(), g.load_float("ln.ptf_y"), "ln.ptf_y");
  }
  {
    const Tensor x = g.load_float("ln.tensor_x");
    const int64_t c = x.dim(-1);
    const float s = g.load_float("ln.tensor_scale")[0];
    Tensor y(x.shape());
    int_layer_norm_reference(x.data(), x.numel() / c, c, &s, 1, out_scale, gamma.data(), beta.data(), y.data());
    expect_same(y.data(), g.load_float("ln.tensor_y"), "ln.tensor_y");
  }
}

TEST(LogIntSoftmax, ReferenceEmulation) {
  const auto g = goldens();
  const Tensor logits = g.load_float("lis.logits");
  const float s = g.load_float("lis.scale")[0];
  float mn = logits[0], mx = logits[0];
  for (int64_t i = 0; i < logits.numel(); ++i) mn = std::min(mn, logits[i]), mx = std::max(mx, logits[i]);
  const QParams qp = activation_qparams(mn, mx, kUint8);
  ASSERT_EQ(qp.scale, s);
  Tensor lq = logits;
  fake_quant_inplace(lq.data(), lq.numel(), qp, kUint8);
  const int64_t rows = logits.dim(0), cols = logits.dim(1);
  struct Case {
    const char* name;
    bool quantized;
    LisParams p;
  };
  for (const Case& c : {Case{"lis.q_out_b4", true, {4, 30}}, Case{"lis.q_out_b3", true, {3, 30}},
                        Case{"lis.raw_out_b4", false, {4, 30}}, Case{"lis.q_out_b4_n20", true, {4, 20}}}) {
    Tensor y = c.quantized ? lq : logits;
    lis_fake_quant(y.data(), rows, cols, s, c.p);
    expect_same(y.data(), g.load_float(c.name), c.name);
  }
}

TEST(Ptf, FakeQuantWithGoldenParams) {
  const auto g = goldens();
  const Tensor x = g.load_float("ptf.batch2");
  const int64_t c = x.dim(-1);
  PtfParams p;
  p.scale1 = g.load_float("ptf.scale1")[0];
  p.zero_point = static_cast<int32_t>(g.load_float("ptf.zp")[0]);
  const auto alpha = g.bytes("ptf.alpha");
  for (int64_t i = 0; i < c; ++i) p.alpha.push_back(static_cast<uint8_t>(reinterpret_cast<const int32_t*>(alpha.data())[i]));
  Tensor y = x;
  ptf_fake_quant(y.data(), x.numel() / c, c, p);
  expect_same(y.data(), g.load_float("ptf.fq"), "ptf.fq");
}

}  // namespace
}  // namespace fqvit
