#include "fqvit/eval/top_k.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace fqvit {

std::vector<int64_t> top_k_classes(const float* logits, int64_t classes, int64_t k) {
  k = std::min(k, classes);
  if (k <= 0) return {};
  using Elem = std::pair<float, int64_t>;
  std::vector<Elem> queue(static_cast<size_t>(classes));
  for (int64_t j = 0; j < classes; ++j) queue[static_cast<size_t>(j)] = {logits[j], j};
  // The same libstdc++ algorithms and comparator as torch, so ties land in the same order.
  const auto larger = [](const Elem& x, const Elem& y) {
    return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
  };
  if (k * 64 <= classes) {
    std::partial_sort(queue.begin(), queue.begin() + k, queue.end(), larger);
  } else {
    std::nth_element(queue.begin(), queue.begin() + k - 1, queue.end(), larger);
    std::sort(queue.begin(), queue.begin() + k - 1, larger);
  }
  std::vector<int64_t> out(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) out[static_cast<size_t>(j)] = queue[static_cast<size_t>(j)].second;
  return out;
}

}  // namespace fqvit
