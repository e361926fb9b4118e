// DeiT-Tiny end to end against the original FQ-ViT code's results (shared/reference/deit_tiny): fqvit-eval in FP32 on
// torch numerics, and fqvit-calibrate (shared/imagenet/calib in calib_order.txt order) then fqvit-eval --engine fake,
// on the 650 dev images. DeiT quantizes its normalized input (qact_input) and normalizes with ImageNet statistics,
// paths the ViT-Tiny parity never takes.
//
// The reference ran on OpenBLAS's Prescott kernels, so the logits are compared bit for bit and the tests run only
// where torch_cpu::platform() reports that family (they skip, saying so, elsewhere). Quantized logits tie often and
// torch's topk breaks ties in no fixed order: an image listed in tied_top1_images may take any of its tied classes,
// and top-1 / top-5 must lie in the reference's range over tie breaks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>

#include "cli_runner.h"
#include "fqvit/io/safetensors.h"
#include "platform_guard.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr double kRangeSlack = 1e-3;          // points; the reference's figures are rounded to 4 decimals
constexpr int64_t kMaxDifferingLogits = 0;   // the reference's floats, every one

struct DeitCase {
  const char* reference_id;  // entry of deit_tiny/fqvit_reference_results.json; logits_<id> in its logits file
  const char* config;        // configs/<name>.json, or nullptr for FP32
};

void PrintTo(const DeitCase& c, std::ostream* os) { *os << c.reference_id << " (" << (c.config ? c.config : "fp32") << ")"; }

class DeitTinyParity : public ::testing::TestWithParam<DeitCase> {};

TEST_P(DeitTinyParity, LogitsAndAccuracyOfTheReference) {
  FQVIT_REQUIRE_SHARED(shared);
  FQVIT_REQUIRE_PLATFORM(kDeitTinyReferencePlatform);
  const DeitCase& c = GetParam();
  const std::string ref_dir = shared + "/reference/deit_tiny";
  const std::string dir = testing::scratch_dir(std::string("deit_tiny_parity_") + c.reference_id);
  std::string model = shared + "/models/deit_tiny_patch16_224", engine = "fp32 --numerics torch";
  if (c.config != nullptr) {
    const std::string model_file = dir + "/model.safetensors";
    const auto calib = testing::run_cli(
        "fqvit-calibrate", "--model " + model + " --calib " + shared + "/imagenet/calib --calib-list " + shared +
                               "/reference/calib_order.txt --config " + testing::source_dir() + "/configs/" +
                               c.config + ".json --out " + model_file);
    ASSERT_EQ(calib.exit_code, 0) << calib.output;
    model = model_file, engine = "fake";
  }
  const auto eval = testing::run_cli(
      "fqvit-eval", "--engine " + engine + " --model " + model + " --data " + shared + "/imagenet/val --labels " +
                        shared + "/imagenet/val_labels.txt --batch-size 100 --json " + dir + "/r.json --save-logits " +
                        dir + "/logits.safetensors");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;

  const auto results = nlohmann::json::parse(testing::read_text(ref_dir + "/fqvit_reference_results.json"));
  nlohmann::json ref;
  for (const auto& entry : results["results"]) {
    if (entry["id"] == c.reference_id) ref = entry;
  }
  ASSERT_FALSE(ref.is_null()) << c.reference_id;

  const Tensor logits = SafetensorsFile::open(dir + "/logits.safetensors").load_float("logits");
  const Tensor want = SafetensorsFile::open(ref_dir + "/reference_logits_dev.safetensors")
                          .load_float(std::string("logits_") + c.reference_id);
  ASSERT_EQ(logits.shape(), want.shape());
  int64_t differing = 0;
  double max_diff = 0;
  for (int64_t i = 0; i < logits.numel(); ++i) {
    differing += std::memcmp(logits.data() + i, want.data() + i, sizeof(float)) != 0;
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(logits[i] - want[i])));
  }

  std::map<int64_t, std::set<int64_t>> tied;  // image -> its tied top classes
  for (const auto& t : ref["tied_top1_images"]) {
    for (const auto& cls : t[1]) tied[t[0].get<int64_t>()].insert(cls.get<int64_t>());
  }
  const auto& top1_pred = ref["top1_pred"];
  ASSERT_EQ(static_cast<size_t>(logits.dim(0)), top1_pred.size());
  const int64_t classes = logits.dim(1);
  int64_t agree = 0;
  for (int64_t i = 0; i < logits.dim(0); ++i) {
    const float* row = logits.data() + i * classes;
    const int64_t ours = std::max_element(row, row + classes) - row;
    const auto it = tied.find(i);
    agree += it != tied.end() ? it->second.count(ours) > 0 : ours == top1_pred[static_cast<size_t>(i)].get<int64_t>();
  }

  const auto summary = nlohmann::json::parse(testing::read_text(dir + "/r.json"));
  const double top1 = summary["top1"].get<double>(), top5 = summary["top5"].get<double>();
  std::printf("deit_tiny %s: top-1 %.2f (reference %.2f), top-5 %.2f (reference %.2f), reference class on %lld/%lld "
              "images, %lld of %lld logits differ (max |diff| %g)\n",
              c.reference_id, top1, ref["top1"].get<double>(), top5, ref["top5"].get<double>(),
              static_cast<long long>(agree), static_cast<long long>(logits.dim(0)), static_cast<long long>(differing),
              static_cast<long long>(logits.numel()), max_diff);
  EXPECT_LE(differing, kMaxDifferingLogits);
  EXPECT_EQ(agree, logits.dim(0));
  EXPECT_GE(top1, ref["top1_range_over_tie_breaks"][0].get<double>() - kRangeSlack);
  EXPECT_LE(top1, ref["top1_range_over_tie_breaks"][1].get<double>() + kRangeSlack);
  EXPECT_GE(top5, ref["top5_range_over_tie_breaks"][0].get<double>() - kRangeSlack);
  EXPECT_LE(top5, ref["top5_range_over_tie_breaks"][1].get<double>() + kRangeSlack);
}

INSTANTIATE_TEST_SUITE_P(DeitTiny, DeitTinyParity,
                         ::testing::Values(DeitCase{"fp32", nullptr}, DeitCase{"ptf", "fqvit_w8a8attn8"},
                                           DeitCase{"ptflis", "fqvit_w8a8attn4"},
                                           DeitCase{"minmax", "minmax_w8a8attn8"}),
                         [](const ::testing::TestParamInfo<DeitCase>& param) {
                           return std::string(param.param.reference_id);
                         });

}  // namespace
}  // namespace fqvit
