// The point tables (vit_names.h, swin_names.h): the graphs call their points in the tables' order, the role looked up
// by name agrees with the table, and the role counts are FQ-ViT's placement (vit_quant.py / swin_quant.py: PTF on
// every residual-stream quantizer, LIS on every softmax).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fqvit/model/vision_model.h"
#include "fqvit/model/quant_hooks.h"
#include "fqvit/model/swin_names.h"
#include "fqvit/model/vit_names.h"
#include "test_paths.h"

namespace fqvit {
namespace {

struct NameRecorder : QuantHooks {
  std::vector<std::string> names;
  void activation(const std::string& name, float*, int64_t, int64_t) override { names.push_back(name); }
};

int count_role(const std::vector<QuantPoint>& points, QuantRole role) {
  int n = 0;
  for (const QuantPoint& p : points) n += p.role == role;
  return n;
}

TEST(QuantPoints, VitGraphCallsTheTableInOrder) {
  const auto model = load_model(testing::source_dir() + "/tests/data/models/deit_distilled_small_random_committed");
  const ModelConfig& c = model->config();
  NameRecorder hooks;
  model->forward(Tensor(Shape{1, c.in_chans, c.img_size, c.img_size}), &hooks);
  std::vector<std::string> want;
  for (const QuantPoint& p : vit_points(c.depth, c.quantize_input, c.distilled)) want.push_back(p.name);
  EXPECT_EQ(hooks.names, want);
  EXPECT_EQ(model->activation_points(), want);
}

TEST(QuantPoints, RolesByNameAgreeWithTheTables) {
  const std::vector<QuantPoint> vit = vit_points(12, true, true);
  const std::vector<QuantPoint> swin = swin_points({2, 2, 6, 2}, true);
  for (const auto* points : {&vit, &swin}) {
    for (const QuantPoint& p : *points) {
      EXPECT_EQ(quant_point_role(p.name), p.role) << p.name;
      EXPECT_NE(std::string(p.producer), "") << p.name;
      EXPECT_NE(std::string(p.inputs), "") << p.name;
    }
  }
  EXPECT_EQ(vit.size(), 5u + 11u * 12u + 3u);  // input, stem 4, 11 per block, norm, two heads
  EXPECT_EQ(count_role(vit, QuantRole::kResidual), 1 + 2 * 12);
  EXPECT_EQ(count_role(vit, QuantRole::kAttention), 12);
  EXPECT_EQ(swin.size(), 3u + 13u * 12u + 2u * 3u + 3u);  // input, stem 2, 13 per block, 2 per merging, 3 final
  EXPECT_EQ(count_role(swin, QuantRole::kResidual), 2 * 12 + 3);
  EXPECT_EQ(count_role(swin, QuantRole::kAttention), 12);
  EXPECT_EQ(quant_point_role("not.a.point"), QuantRole::kActivation);
}

TEST(QuantPoints, NamesAreFqvitModuleNames) {
  EXPECT_EQ(vit_point_name(VitPoint::kSoftmax, 3), "blocks.3.attn.log_int_softmax");
  EXPECT_EQ(vit_point_name(VitPoint::kTokens), "qact1");
  EXPECT_EQ(swin_point_name(SwinPoint::kBiasTable, 1, 0), "layers.1.blocks.0.attn.qact_table");
  EXPECT_EQ(swin_point_name(SwinPoint::kMergeReduction, 2), "layers.2.downsample.qact2");
}

}  // namespace
}  // namespace fqvit
