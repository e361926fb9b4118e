// evaluate() counts a NaN or inf logit row as wrong, whatever torch.topk would rank first (it ranks NaN above
// every number, so a NaN at the label's index would otherwise count as a correct top-1).
#include "fqvit/eval/evaluate.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int64_t kClasses = 6;

TEST(Evaluate, NonFiniteLogitsNeverCountAsCorrect) {
  const std::string images = testing::source_dir() + "/tests/data/images/";
  const std::vector<LabeledImage> list = {{images + "rgb8_13x11.png", "a", 2},
                                          {images + "rgb420_37x23.jpg", "b", 2},
                                          {images + "gray_29x17.jpg", "c", 2}};
  // Row 0: label 2 is the largest finite logit. Row 1: NaN at the label. Row 2: +inf at the label.
  const ForwardFn forward = [](const Tensor& x) {
    Tensor logits({x.dim(0), kClasses}, 0.0f);
    for (int64_t i = 0; i < x.dim(0); ++i) logits[i * kClasses + 2] = 1.0f;
    if (x.dim(0) == 3) {
      logits[1 * kClasses + 2] = std::numeric_limits<float>::quiet_NaN();
      logits[2 * kClasses + 2] = std::numeric_limits<float>::infinity();
    }
    return logits;
  };
  PreprocessConfig pre;
  pre.input_size = 8;
  EvalOptions options;
  options.batch_size = 3;
  options.progress = false;
  const EvalResult r = evaluate(forward, list, pre, options);
  EXPECT_EQ(r.images, 3);
  EXPECT_EQ(r.nonfinite, 2);
  EXPECT_EQ(r.top1_correct, 1);
  EXPECT_EQ(r.top5_correct, 1);
}

}  // namespace
}  // namespace fqvit
