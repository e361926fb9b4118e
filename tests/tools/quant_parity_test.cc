// The parity check, end to end through the CLIs: fqvit-calibrate on shared/imagenet/calib in the reference's
// order (calib_order.txt), fqvit-eval --engine fake on shared/imagenet/val, held against the original FQ-ViT code's
// results (shared/reference/fqvit_reference_results.json and its golden logits).
//
// On torch numerics (the default for both tools) the whole pipeline computes the reference's floats, so the results
// are identical, not merely close: same top-1 / top-5, the same class on every image, the golden logits to the bit.
// The bounds (1.0 point, 90% of images, 8 of 8 argmaxes) are far looser; the measured equality is asserted
// so that any drift shows at once (the quantized ViT-Tiny is chaotic: one flipped LSB moves predictions).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "cli_runner.h"
#include "fqvit/io/safetensors.h"
#include "platform_guard.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr double kAccuracyTolerance = 0.01;  // points; the reference's figures are rounded to 4 decimals
constexpr double kMinAgreement = 1.0;        // fraction of images with the reference's top-1 class
constexpr double kMaxGoldenLogitDiff = 0.0;  // |ours - golden| on the 8 golden images

struct ParityCase {
  const char* reference_id;  // entry of fqvit_reference_results.json
  const char* config;        // configs/<name>.json
  const char* golden_key;    // logits in golden_vit_tiny.safetensors
};

// Names the case in test listings instead of its bytes.
void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.reference_id << " (" << c.config << ")"; }

class QuantParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(QuantParity, CalibrateAndEvaluateLikeTheReference) {
  FQVIT_REQUIRE_SHARED(shared);
  FQVIT_REQUIRE_PLATFORM(kReferencePlatform);
  const ParityCase& c = GetParam();
  const std::string dir = testing::scratch_dir(std::string("quant_parity_") + c.reference_id);
  const std::string model_file = dir + "/model.safetensors";
  const auto calib = testing::run_cli(
      "fqvit-calibrate", "--model " + shared + "/models/vit_tiny_patch16_224 --calib " + shared +
                             "/imagenet/calib --calib-list " + shared + "/reference/calib_order.txt --config " +
                             testing::source_dir() + "/configs/" + c.config + ".json --out " + model_file);
  ASSERT_EQ(calib.exit_code, 0) << calib.output;
  const auto eval = testing::run_cli(
      "fqvit-eval", "--engine fake --model " + model_file + " --data " + shared + "/imagenet/val --labels " +
                        shared + "/imagenet/val_labels.txt --batch-size 100 --json " + dir +
                        "/r.json --save-logits " + dir + "/logits.safetensors");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;

  const auto results = nlohmann::json::parse(testing::read_text(shared + "/reference/fqvit_reference_results.json"));
  nlohmann::json ref;
  for (const auto& entry : results["results"]) {
    if (entry["id"] == c.reference_id) ref = entry;
  }
  ASSERT_FALSE(ref.is_null()) << c.reference_id;
  const auto ours = nlohmann::json::parse(testing::read_text(dir + "/r.json"));
  EXPECT_NEAR(ours["top1"].get<double>(), ref["top1"].get<double>(), kAccuracyTolerance);
  EXPECT_NEAR(ours["top5"].get<double>(), ref["top5"].get<double>(), kAccuracyTolerance);

  const auto logits_file = SafetensorsFile::open(dir + "/logits.safetensors");
  const Tensor logits = logits_file.load_float("logits");
  const auto& want = ref["top1_pred"];
  ASSERT_EQ(static_cast<size_t>(logits.dim(0)), want.size());
  const int64_t classes = logits.dim(1);
  int64_t agree = 0;
  for (int64_t i = 0; i < logits.dim(0); ++i) {
    const float* row = logits.data() + i * classes;
    agree += std::max_element(row, row + classes) - row == want[static_cast<size_t>(i)].get<int64_t>();
  }
  const double agreement = static_cast<double>(agree) / static_cast<double>(logits.dim(0));

  const auto golden = SafetensorsFile::open(shared + "/reference/golden_vit_tiny.safetensors");
  const Tensor golden_logits = golden.load_float(c.golden_key);
  double max_diff = 0;
  int argmax_equal = 0;
  for (int64_t i = 0; i < golden_logits.dim(0); ++i) {
    const float* g = golden_logits.data() + i * classes;
    const float* o = logits.data() + i * classes;
    for (int64_t j = 0; j < classes; ++j) max_diff = std::max(max_diff, static_cast<double>(std::fabs(g[j] - o[j])));
    argmax_equal += std::max_element(g, g + classes) - g == std::max_element(o, o + classes) - o;
  }
  std::printf("%s: top-1 %.2f (reference %.2f), top-5 %.2f (reference %.2f), same class on %.1f%% of images, "
              "golden logits max |diff| %g, argmax equal %d/%lld\n",
              c.reference_id, ours["top1"].get<double>(), ref["top1"].get<double>(), ours["top5"].get<double>(),
              ref["top5"].get<double>(), 100 * agreement, max_diff, argmax_equal,
              static_cast<long long>(golden_logits.dim(0)));
  EXPECT_GE(agreement, kMinAgreement);
  EXPECT_LE(max_diff, kMaxGoldenLogitDiff);
}

INSTANTIATE_TEST_SUITE_P(
    VitTiny, QuantParity,
    ::testing::Values(ParityCase{"ptflis", "fqvit_w8a8attn4", "logits_ptf_lis_w8a8attn4"},
                      ParityCase{"ptf", "fqvit_w8a8attn8", "logits_ptf_w8a8attn8"},
                      ParityCase{"minmax", "minmax_w8a8attn8", "logits_minmax_w8a8attn8"}),
    [](const ::testing::TestParamInfo<ParityCase>& param) { return std::string(param.param.reference_id); });

}  // namespace
}  // namespace fqvit
