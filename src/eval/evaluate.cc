#include "fqvit/eval/evaluate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "fqvit/core/progress.h"
#include "fqvit/eval/top_k.h"

namespace fqvit {

namespace {

EvalResult evaluate_batches(const PixelForwardFn* pixel_forward, const ForwardFn* forward,
                            const std::vector<LabeledImage>& images, const PreprocessConfig& preprocess,
                            const EvalOptions& options) {
  using Clock = std::chrono::steady_clock;
  EvalResult result;
  BatchLoader loader(images, preprocess, options.batch_size, options.decode_threads, 2,
                     pixel_forward ? BatchContent::kPixels : BatchContent::kNormalized);
  std::vector<Tensor> kept;
  ProgressBar progress("eval", static_cast<int64_t>(images.size()));
  const auto start = Clock::now();
  Batch batch;
  while (loader.next(&batch)) {
    for (const std::string& error : batch.errors) {
      spdlog::warn("skipped: {}", error);
      result.skipped.push_back(error);
    }
    const auto n = static_cast<int64_t>(batch.indices.size());
    if (n > 0) {
      const auto model_start = Clock::now();
      Tensor logits = pixel_forward ? (*pixel_forward)(batch.pixels.data(), n) : (*forward)(batch.images);
      result.model_seconds += std::chrono::duration<double>(Clock::now() - model_start).count();
      const int64_t classes = logits.dim(1);
      for (int64_t i = 0; i < n; ++i) {
        const float* row = logits.data() + i * classes;
        const int label = batch.labels[static_cast<size_t>(i)];
        // torch.topk ranks NaN first, so a NaN logit at the label's index would count as correct: never count it.
        const bool finite = std::all_of(row, row + classes, [](float v) { return std::isfinite(v); });
        std::vector<int64_t> top;  // stays empty for non-finite logits: no ranking is recorded
        if (finite) {
          top = top_k_classes(row, classes, 5);
          result.top1_correct += !top.empty() && top[0] == label ? 1 : 0;
          result.top5_correct += std::find(top.begin(), top.end(), label) != top.end() ? 1 : 0;
        } else {
          ++result.nonfinite;
        }
        result.predictions.push_back(static_cast<int>(std::max_element(row, row + classes) - row));
        result.labels.push_back(label);
        result.top5_classes.emplace_back(top.begin(), top.end());
        result.image_paths.push_back(images[batch.indices[static_cast<size_t>(i)]].relative);
      }
      result.images += n;
      if (options.keep_logits) kept.push_back(std::move(logits));
    }
    if (options.progress) progress.advance(n + static_cast<int64_t>(batch.errors.size()));
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options.keep_logits && !kept.empty()) {
    const int64_t classes = kept.front().dim(1);
    result.logits = Tensor({result.images, classes});
    int64_t offset = 0;
    for (const Tensor& t : kept) {
      std::memcpy(result.logits.data() + offset, t.data(), static_cast<size_t>(t.numel()) * sizeof(float));
      offset += t.numel();
    }
  }
  return result;
}

}  // namespace

EvalResult evaluate(const ForwardFn& forward, const std::vector<LabeledImage>& images,
                    const PreprocessConfig& preprocess, const EvalOptions& options) {
  return evaluate_batches(nullptr, &forward, images, preprocess, options);
}

EvalResult evaluate(const PixelForwardFn& forward, const std::vector<LabeledImage>& images,
                    const PreprocessConfig& preprocess, const EvalOptions& options) {
  return evaluate_batches(&forward, nullptr, images, preprocess, options);
}

}  // namespace fqvit
