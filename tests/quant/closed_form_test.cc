// Hand-checkable cases of the quantizer arithmetic (the torch goldens cover the general case).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "fqvit/quant/fake_quant.h"
#include "fqvit/quant/int_layer_norm.h"
#include "fqvit/quant/log_int_softmax.h"
#include "fqvit/quant/ptf.h"
#include "fqvit/quant/qparams.h"

namespace fqvit {
namespace {

TEST(BitType, RangesAndNames) {
  EXPECT_EQ(kInt8.lo(), -128);
  EXPECT_EQ(kInt8.hi(), 127);
  EXPECT_EQ(kUint4.hi(), 15);
  EXPECT_EQ((BitType{2, true}.lo()), -2);
  EXPECT_EQ((BitType{2, true}.hi()), 1);
  BitType bt;
  EXPECT_TRUE(parse_bit_type("uint6", &bt));
  EXPECT_EQ(bt, (BitType{6, false}));
  EXPECT_FALSE(parse_bit_type("int9", &bt));
  EXPECT_FALSE(parse_bit_type("uint1", &bt));
  EXPECT_FALSE(parse_bit_type("float8", &bt));
  EXPECT_EQ(kUint8.name(), "uint8");
}

TEST(Uniform, RoundsHalfToEvenAndClamps) {
  const QParams qp{1.0f, 0};
  EXPECT_EQ(quantize(0.5f, qp, kUint8), 0);
  EXPECT_EQ(quantize(1.5f, qp, kUint8), 2);
  EXPECT_EQ(quantize(2.5f, qp, kUint8), 2);
  EXPECT_EQ(quantize(-3.0f, qp, kUint8), 0);
  EXPECT_EQ(quantize(300.0f, qp, kUint8), 255);
  EXPECT_EQ(quantize(-200.0f, qp, kInt8), -128);
  // real = scale * (q - zero_point)
  EXPECT_EQ(dequantize(10, QParams{0.5f, 4}), 3.0f);
}

TEST(Uniform, WeightScaleIsAbsmaxOver127Point5) {
  EXPECT_FLOAT_EQ(weight_qparams(-1.275f, 0.5f, kInt8).scale, 0.01f);
  EXPECT_EQ(weight_qparams(-1.275f, 0.5f, kInt8).zero_point, 0);
  // 4 bits: (7 - -8) / 2 = 7.5
  EXPECT_FLOAT_EQ(weight_qparams(-0.75f, 0.1f, BitType{4, true}).scale, 0.1f);
  // A zero range is clamped to FLT_EPSILON, not 0.
  EXPECT_EQ(activation_qparams(0.0f, 0.0f, kUint8).scale, kMinScale);
}

TEST(Uniform, ActivationZeroPointMapsMinToLo) {
  const QParams qp = activation_qparams(-1.0f, 3.0f, kUint8);  // s = 4/255, zp = round(63.75) = 64
  EXPECT_EQ(qp.zero_point, 64);
  EXPECT_EQ(quantize(0.0f, qp, kUint8), 64);
}

TEST(Ptf, ChannelScalesArePowersOfTwo) {
  PtfParams p;
  p.scale1 = 0.25f;
  p.zero_point = 3;
  p.alpha = {0, 1, 3};
  EXPECT_EQ(p.channel_scales(), (std::vector<float>{0.25f, 0.5f, 2.0f}));
  std::vector<float> x = {0.3f, 0.3f, 0.3f};
  ptf_fake_quant(x.data(), 1, 3, p);
  EXPECT_EQ(x, (std::vector<float>{0.25f, 0.5f, 0.0f}));  // round(1.2)=1, round(0.6)=1, round(0.15)=0
}

TEST(LogIntSoftmax, EqualLogitsGiveEqualPowerOfTwoWeights) {
  std::vector<float> x(4, 1.0f);
  lis_fake_quant(x.data(), 1, 4, 0.05f, LisParams{});
  for (float v : x) EXPECT_EQ(v, 0.25f);  // p = 1/4 = 2^-2 exactly
  std::vector<uint8_t> codes(4);
  std::vector<float> y(4, 1.0f);
  lis_codes(y.data(), 1, 4, 0.05f, LisParams{}, codes.data());
  for (uint8_t c : codes) EXPECT_EQ(c, 2);
}

TEST(LogIntSoftmax, TinyProbabilitiesBecomeTheZeroCode) {
  // Logits 0 and -40: p ~ e^-40, far below 2^-15, so the code is the 17th state "exactly zero".
  std::vector<float> x = {0.0f, -40.0f};
  std::vector<uint8_t> codes(2);
  lis_codes(x.data(), 1, 2, 0.2f, LisParams{4, 30}, codes.data());
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], lis_zero_code(4));
  EXPECT_EQ(lis_zero_code(4), 16);
  lis_fake_quant(x.data(), 1, 2, 0.2f, LisParams{4, 30});
  EXPECT_EQ(x[0], 1.0f);
  EXPECT_EQ(x[1], 0.0f);
}

TEST(IntLayerNorm, TwoChannelsByHand) {
  // x_q = [-1, 1] on scale 1: mean 0, std = 1/2 sqrt(2*2 - 0) = 1; A = 1 * 1 / (1/64) = 64 -> N = 1, M = 128, B = 0;
  // y = round(+-128 / 2) / 64 = +-1, the float LayerNorm's value.
  const float x[] = {-1.0f, 1.0f}, scale = 1.0f, gamma[] = {1.0f, 1.0f}, beta[] = {0.0f, 0.0f};
  float y[2];
  int_layer_norm_reference(x, 1, 2, &scale, 1, 1.0f / 64.0f, gamma, beta, y);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[1], 1.0f);
}

// No epsilon, as the reference (checked with torch): a constant row has std = 0, giving -inf for a positive constant
// and NaN (0/0) for a zero row.
TEST(IntLayerNorm, ConstantRowsBreakAsTheReference) {
  const float x[] = {2.0f, 2.0f, 2.0f, 0.0f, 0.0f, 0.0f}, scale = 1.0f, gamma[] = {1, 1, 1}, beta[] = {0, 0, 0};
  float y[6];
  int_layer_norm_reference(x, 2, 3, &scale, 1, 0.1f, gamma, beta, y);
  EXPECT_TRUE(std::isinf(y[0]) && y[0] < 0);
  EXPECT_TRUE(std::isnan(y[3]));
}

}  // namespace
// One NaN rule for every fake-quant path (torch.clamp keeps NaN, so the reference's fake quantization does): the
// uniform, per-channel weight and PTF emulations all return NaN for NaN, and infinities clamp to the grid's ends.
// Only the integer code, which cannot hold NaN, maps it to the lowest code.
TEST(Uniform, NanStaysNanInFloatAndIsTheLowestCode) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const QParams qp{0.5f, 3};
  std::vector<float> x = {nan, inf, -inf, 1.0f};
  fake_quant_inplace(x.data(), 4, qp, kUint8);
  EXPECT_TRUE(std::isnan(x[0]));
  EXPECT_EQ(x[1], (255.0f - 3.0f) * 0.5f);
  EXPECT_EQ(x[2], (0.0f - 3.0f) * 0.5f);
  EXPECT_EQ(x[3], 1.0f);
  float w[] = {nan, 1.0f}, scale = 0.25f;
  fake_quant_weight(w, 1, 2, &scale, kInt8);
  EXPECT_TRUE(std::isnan(w[0]));
  EXPECT_EQ(w[1], 1.0f);
  PtfParams ptf;
  ptf.scale1 = 0.125f;
  ptf.zero_point = 0;
  ptf.alpha = {0, 3};
  float p[] = {nan, nan};
  ptf_fake_quant(p, 1, 2, ptf);
  EXPECT_TRUE(std::isnan(p[0]) && std::isnan(p[1]));
  EXPECT_EQ(quantize(nan, qp, kUint8), 0);
  EXPECT_EQ(quantize(nan, qp, kInt8), -128);
}

}  // namespace fqvit
