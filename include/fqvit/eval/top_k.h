// Top-k classes in torch.topk's order (largest, sorted), ties included: quantized logits are multiples of one scale,
// so ties between classes are common, and which tied class counts as "top-1" decides accuracy. The FQ-ViT
// reference's `accuracy()` takes output.topk(5); following its tie order reproduces its top-1 / top-5 exactly.
#pragma once

#include <cstdint>
#include <vector>

namespace fqvit {

// The k largest of logits[0..classes) as torch 1.13's CPU topk_impl_loop returns them: (value, index) pairs in
// index order through std::partial_sort when k * 64 <= classes, else std::nth_element + std::sort, comparing values
// only (NaN largest).
std::vector<int64_t> top_k_classes(const float* logits, int64_t classes, int64_t k);

}  // namespace fqvit
