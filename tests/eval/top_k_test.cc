// top_k_classes against torch.topk on tied logits (tests/eval/make_top_k_goldens.py): the same classes in the same
// order, on both of torch's paths (partial_sort for 1000 classes, nth_element + sort for 50).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "fqvit/eval/top_k.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int64_t kK = 5;

TEST(TopK, MatchesTorchTopkOrderOnTies) {
  const auto goldens = SafetensorsFile::open(testing::source_dir() + "/tests/eval/data/top_k_goldens.safetensors");
  for (const int64_t classes : {1000, 50}) {
    const Tensor logits = goldens.load_float("logits_" + std::to_string(classes));
    const auto raw = goldens.bytes("top5_" + std::to_string(classes));
    std::vector<int32_t> want(raw.size() / sizeof(int32_t));
    std::memcpy(want.data(), raw.data(), raw.size());
    const int64_t rows = logits.dim(0);
    ASSERT_EQ(static_cast<int64_t>(want.size()), rows * kK);
    int64_t rows_with_ties = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = logits.data() + r * classes;
      const std::vector<int64_t> got = top_k_classes(row, classes, kK);
      ASSERT_EQ(static_cast<int64_t>(got.size()), kK);
      for (int64_t j = 0; j < kK; ++j) EXPECT_EQ(got[j], want[r * kK + j]) << classes << " classes, row " << r;
      rows_with_ties += row[got[0]] == row[got[1]];
    }
    EXPECT_GT(rows_with_ties, 0) << "the goldens must exercise ties";
  }
}

TEST(TopK, KLargerThanClassesReturnsAll) {
  const float logits[3] = {0.5f, 2.0f, 1.0f};
  EXPECT_EQ(top_k_classes(logits, 3, 5), (std::vector<int64_t>{1, 2, 0}));
}

}  // namespace
}  // namespace fqvit
