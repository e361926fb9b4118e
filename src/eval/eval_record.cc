#include "fqvit/eval/eval_record.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void fnv1a(uint64_t* h, const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    *h ^= static_cast<unsigned char>(data[i]);
    *h *= kFnvPrime;
  }
}

void hash_file(uint64_t* h, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the model file");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    fnv1a(h, buffer.data(), static_cast<size_t>(in.gcount()));
  }
}

std::string hex(uint64_t h) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

}  // namespace

ImageSlice shard_slice(int64_t index, int64_t count, int64_t total) {
  ImageSlice s;
  s.index = index;
  s.count = count;
  s.total = total;
  s.first = index * total / count;
  s.end = (index + 1) * total / count;
  return s;
}

ImageSlice parse_shard(const std::string& text, const std::string& origin, const std::string& field) {
  const size_t slash = text.find('/');
  int64_t index = -1, count = 0;
  bool ok = slash != std::string::npos;
  if (ok) {
    const char* b = text.data();
    const auto r1 = std::from_chars(b, b + slash, index);
    const auto r2 = std::from_chars(b + slash + 1, b + text.size(), count);
    ok = r1.ec == std::errc() && r1.ptr == b + slash && r2.ec == std::errc() && r2.ptr == b + text.size() &&
         count >= 1 && index >= 0 && index < count;
  }
  if (!ok) fail(origin, field, "'" + text + "'", "I/N with 0 <= I < N (0-based shard index of N shards)");
  return shard_slice(index, count, 0);
}

std::string model_fingerprint(const std::string& model_path) {
  uint64_t h = kFnvOffset;
  if (std::filesystem::is_directory(model_path)) {
    hash_file(&h, model_path + "/config.json");
    hash_file(&h, model_path + "/model.safetensors");
  } else {
    hash_file(&h, model_path);
  }
  return hex(h);
}

std::string image_list_fingerprint(const std::vector<LabeledImage>& images) {
  uint64_t h = kFnvOffset;
  for (const LabeledImage& image : images) {
    const std::string line = image.relative + " " + std::to_string(image.label) + "\n";
    fnv1a(&h, line.data(), line.size());
  }
  return hex(h);
}

const std::vector<std::string>& eval_identity_keys() {
  static const std::vector<std::string> keys = {"engine", "numerics", "model", "model_fingerprint", "data",
                                                "class_list", "labels", "limit", "batch_size",
                                                "image_list_fingerprint"};
  return keys;
}

const std::vector<std::string>& eval_timing_keys() {
  static const std::vector<std::string> keys = {"seconds", "model_seconds", "images_per_second",
                                                "model_images_per_second"};
  return keys;
}

nlohmann::json eval_record(const EvalRunInfo& info, const EvalResult& r) {
  nlohmann::json predictions = nlohmann::json::array();
  for (size_t i = 0; i < r.predictions.size(); ++i) {
    predictions.push_back({{"image", r.image_paths[i]},
                           {"label", r.labels[i]},
                           {"argmax", r.predictions[i]},
                           {"top5", r.top5_classes[i]}});
  }
  return {
      {"top1", r.top1()},
      {"top5", r.top5()},
      {"images", r.images},
      {"top1_correct", r.top1_correct},
      {"top5_correct", r.top5_correct},
      {"skipped", r.skipped.size()},
      {"skipped_images", r.skipped},
      {"nonfinite_logits", r.nonfinite},
      {"seconds", r.seconds},
      {"model_seconds", r.model_seconds},
      {"images_per_second", r.images_per_second()},
      {"model_images_per_second", r.model_seconds > 0 ? static_cast<double>(r.images) / r.model_seconds : 0.0},
      {"engine", info.engine},
      {"numerics", info.numerics.empty() ? "default" : info.numerics},
      {"model", info.model},
      {"model_fingerprint", info.model_fingerprint},
      {"data", info.data},
      {"class_list", info.class_list},
      {"labels", info.labels},
      {"limit", info.limit},
      {"batch_size", info.batch_size},
      {"threads", info.threads},
      {"image_list_fingerprint", info.image_list_fingerprint},
      {"shard", {{"index", info.slice.index}, {"count", info.slice.count}}},
      {"slice", {{"first", info.slice.first}, {"end", info.slice.end}, {"total", info.slice.total}}},
      {"predictions", predictions},
  };
}

}  // namespace fqvit
