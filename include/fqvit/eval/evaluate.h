// Top-1 / top-5 evaluation of any engine over an image list, with the prefetching loader and throughput figures.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fqvit/core/tensor.h"
#include "fqvit/io/dataset.h"

namespace fqvit {

// Logits [B, classes] for a normalized batch [B, 3, S, S].
using ForwardFn = std::function<Tensor(const Tensor&)>;
// Logits [B, classes] for uint8 center crops [B][3][S][S] (CHW), before ToTensor: the integer engine's input.
using PixelForwardFn = std::function<Tensor(const uint8_t* pixels, int64_t batch)>;

struct EvalOptions {
  int batch_size = 8;
  int decode_threads = 1;
  bool keep_logits = false;
  bool progress = true;
};

struct EvalResult {
  int64_t images = 0;         // evaluated (decoded) images
  int64_t top1_correct = 0;
  int64_t top5_correct = 0;
  std::vector<std::string> skipped;  // one error line per image that could not be decoded
  int64_t nonfinite = 0;             // evaluated images whose logits hold a NaN or inf: counted as wrong
  double seconds = 0.0;              // wall time, decode overlapped with the model
  double model_seconds = 0.0;        // time inside forward() only
  Tensor logits;                     // [images, classes] in list order, when keep_logits
  std::vector<std::string> image_paths;  // relative paths of the evaluated images, in order
  std::vector<int> predictions;          // argmax (first largest) per evaluated image, as torch.argmax
  std::vector<int> labels;               // the label of each evaluated image
  std::vector<std::vector<int>> top5_classes;  // torch.topk's first 5 per evaluated image; empty if non-finite
  // top1/top5 count the label among torch.topk's first 1 / 5 classes (top_k.h), ties in torch's order.

  double top1() const { return images ? 100.0 * static_cast<double>(top1_correct) / static_cast<double>(images) : 0; }
  double top5() const { return images ? 100.0 * static_cast<double>(top5_correct) / static_cast<double>(images) : 0; }
  double images_per_second() const { return seconds > 0 ? static_cast<double>(images) / seconds : 0.0; }
};

EvalResult evaluate(const PixelForwardFn& forward, const std::vector<LabeledImage>& images,
                    const PreprocessConfig& preprocess, const EvalOptions& options);
EvalResult evaluate(const ForwardFn& forward, const std::vector<LabeledImage>& images,
                    const PreprocessConfig& preprocess, const EvalOptions& options);

}  // namespace fqvit
