// The JSON record of one evaluation (fqvit-eval --json): counts, per-image predictions, what was evaluated and the
// slice of the image list it covered, so that shards of one evaluation can be checked and added up exactly.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fqvit/eval/evaluate.h"
#include "fqvit/io/dataset.h"

namespace fqvit {

// Shard `index` of `count` (0-based): the contiguous block [first, end) of an image list of `total` images, with
// first = index * total / count. Contiguous blocks keep the merged predictions in list order; the blocks' sizes
// differ by at most one image.
struct ImageSlice {
  int64_t index = 0;
  int64_t count = 1;
  int64_t first = 0;
  int64_t end = 0;
  int64_t total = 0;
};
ImageSlice shard_slice(int64_t index, int64_t count, int64_t total);

// Parses "I/N" (0 <= I < N); throws Error naming `origin` and `field` otherwise.
ImageSlice parse_shard(const std::string& text, const std::string& origin, const std::string& field);

// FNV-1a 64 of a model's bytes (a quantized file, or a checkpoint directory's config.json + model.safetensors), as
// 16 hex digits: shards of one evaluation must have read the same model.
std::string model_fingerprint(const std::string& model_path);
// FNV-1a 64 of the relative paths and labels of the whole image list a slice was cut from.
std::string image_list_fingerprint(const std::vector<LabeledImage>& images);

struct EvalRunInfo {
  std::string engine, numerics, model, data, class_list, labels;
  int64_t limit = 0;
  int batch_size = 0;
  int threads = 0;
  std::string model_fingerprint, image_list_fingerprint;
  ImageSlice slice;
};

// Keys of the record that must agree between the shards of one evaluation.
const std::vector<std::string>& eval_identity_keys();
// Keys that measure time: they differ between any two runs, and merging sums the seconds.
const std::vector<std::string>& eval_timing_keys();

nlohmann::json eval_record(const EvalRunInfo& info, const EvalResult& result);

}  // namespace fqvit
