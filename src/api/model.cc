// fqvit::Model: one loaded engine (eval/engine.h) shared read-only by every call; each call preprocesses into its
// own batch tensor and runs the engine's const forward on its own OpenMP threads.
#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <optional>

#include "api/class_names.h"
#include "api/thread_scope.h"
#include "fqvit/eval/engine.h"
#include "fqvit/eval/top_k.h"
#include "fqvit/fqvit.h"
#include "fqvit/io/image.h"
#include "fqvit/io/preprocess.h"

namespace fqvit {

struct Model::State {
  Engine engine;
  std::vector<std::string> class_names;
  int threads = 0;
};

namespace {

constexpr const char* kApi = "fqvit::Model";

// Runs `body(i)` for i in [0, n) on the call's OpenMP threads; the first Error (by index) is rethrown after the
// loop, since an exception may not leave an OpenMP region.
template <typename Body>
void parallel_for_each(int64_t n, const Body& body) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
    }
  }
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

void check_batch(size_t count, const char* what) {
  if (count == 0) fail(kApi, what, "an empty batch", "at least one image");
}

}  // namespace

Model::Model(std::shared_ptr<const State> state) : state_(std::move(state)) {}

Model Model::load(const std::string& path, const LoadOptions& options) {
  if (!std::filesystem::exists(path)) {
    fail(path, "model", "nothing", "a quantized model file or a checkpoint directory (model.safetensors + config.json)");
  }
  if (options.threads < 0) fail(kApi, "LoadOptions::threads", std::to_string(options.threads), ">= 0");
  std::optional<Numerics> numerics;
  if (!options.numerics.empty()) numerics = parse_numerics(options.numerics, kApi, "LoadOptions::numerics");
  auto state = std::make_shared<State>();
  state->engine = open_engine(options.engine.empty() ? default_engine(path) : options.engine, path, numerics);
  state->threads = options.threads;
  if (!options.class_list.empty()) {
    state->class_names = api::read_class_names(options.class_list, state->engine.config.num_classes);
  }
  return Model(std::move(state));
}

const std::string& Model::engine() const { return state_->engine.name; }
const std::string& Model::architecture() const { return state_->engine.config.architecture; }
int Model::input_size() const { return state_->engine.config.preprocess.input_size; }
int Model::num_classes() const { return state_->engine.config.num_classes; }
const std::vector<std::string>& Model::class_names() const { return state_->class_names; }

namespace {

// Runs `n` S x S RGB crops (interleaved, HWC, what the eval transform's crop step gives) through the engine: as
// uint8 CHW crops into the integer engine (its int32 scores and their scale kept), normalized into a float CHW batch
// for the float engines (the same arithmetic as preprocess_image).
Logits run_crops(const Engine& engine, const uint8_t* crops, int64_t n) {
  const PreprocessConfig& pre = engine.config.preprocess;
  const int64_t pixels = int64_t{pre.input_size} * pre.input_size, per_image = 3 * pixels;
  Logits logits;
  logits.images = n;
  logits.classes = engine.config.num_classes;
  if (engine.forward_pixels) {
    std::vector<uint8_t> chw(static_cast<size_t>(n * per_image));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* in = crops + i * per_image;
      uint8_t* out = chw.data() + i * per_image;
      for (int64_t j = 0; j < pixels; ++j) {
        for (int64_t c = 0; c < 3; ++c) out[c * pixels + j] = in[3 * j + c];
      }
    }
    double scale = 0.0;
    if (!int_scores(engine, chw.data(), n, &logits.codes, &scale)) {
      const Tensor out = engine.forward_pixels(chw.data(), n);
      logits.values.assign(out.data(), out.data() + out.numel());
      return logits;
    }
    logits.scale = static_cast<float>(scale);
    logits.values.resize(logits.codes.size());
    // The integer engine's float logits, as Engine::forward_pixels computes them (fqvit-eval --save-logits).
    for (size_t i = 0; i < logits.codes.size(); ++i) logits.values[i] = static_cast<float>(logits.codes[i]) * logits.scale;
    return logits;
  }
  Tensor batch = Tensor::uninitialized({n, 3, pre.input_size, pre.input_size});
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) normalize_rgb(crops + i * per_image, pixels, pre, batch.data() + i * per_image);
  const Tensor out = engine.forward(batch);
  logits.classes = out.dim(1);
  logits.values.assign(out.data(), out.data() + out.numel());
  return logits;
}

int call_threads(const RunOptions& run, int model_threads) {
  if (run.threads < -1) fail(kApi, "RunOptions::threads", std::to_string(run.threads), "-1 (the model's), 0 (all cores) or more");
  return run.threads == -1 ? model_threads : run.threads;
}

}  // namespace

Logits Model::logits(std::span<const uint8_t> nhwc, const RunOptions& run) const {
  const api::ThreadScope threads(call_threads(run, state_->threads));
  const PreprocessConfig& pre = state_->engine.config.preprocess;
  const int64_t s = pre.input_size, per_image = s * s * 3;
  if (nhwc.empty() || static_cast<int64_t>(nhwc.size()) % per_image != 0) {
    fail(kApi, "logits(nhwc)", std::to_string(nhwc.size()) + " bytes",
         "images x " + std::to_string(s) + " x " + std::to_string(s) + " x 3 uint8 RGB (a positive multiple of " +
             std::to_string(per_image) + ")");
  }
  return run_crops(state_->engine, nhwc.data(), static_cast<int64_t>(nhwc.size()) / per_image);
}

Logits Model::logits(std::span<const ImageView> images, const RunOptions& run) const {
  const api::ThreadScope threads(call_threads(run, state_->threads));
  check_batch(images.size(), "logits(images)");
  const PreprocessConfig& pre = state_->engine.config.preprocess;
  const int64_t n = static_cast<int64_t>(images.size()), per_image = 3 * int64_t{pre.input_size} * pre.input_size;
  for (int64_t i = 0; i < n; ++i) {
    const ImageView& v = images[static_cast<size_t>(i)];
    if (v.rgb == nullptr || v.width <= 0 || v.height <= 0) {
      fail(kApi, "images[" + std::to_string(i) + "]",
           std::to_string(v.width) + " x " + std::to_string(v.height) + (v.rgb ? "" : " with no pixels"),
           "an RGB image with pixels and a positive size");
    }
  }
  std::vector<uint8_t> crops(static_cast<size_t>(n * per_image));
  parallel_for_each(n, [&](int64_t i) {
    const ImageView& v = images[static_cast<size_t>(i)];
    RgbImage image;
    image.width = v.width;
    image.height = v.height;
    image.pixels.assign(v.rgb, v.rgb + size_t{3} * static_cast<size_t>(v.width) * static_cast<size_t>(v.height));
    const RgbImage crop = resize_and_crop(image, pre);
    std::copy(crop.pixels.begin(), crop.pixels.end(), crops.begin() + i * per_image);
  });
  return run_crops(state_->engine, crops.data(), n);
}

Logits Model::logits_files(const std::vector<std::string>& paths, const RunOptions& run) const {
  const api::ThreadScope threads(call_threads(run, state_->threads));
  check_batch(paths.size(), "logits_files(paths)");
  const PreprocessConfig& pre = state_->engine.config.preprocess;
  const int64_t n = static_cast<int64_t>(paths.size()), per_image = 3 * int64_t{pre.input_size} * pre.input_size;
  std::vector<uint8_t> crops(static_cast<size_t>(n * per_image));
  parallel_for_each(n, [&](int64_t i) {
    const RgbImage crop = resize_and_crop(decode_image_file(paths[static_cast<size_t>(i)]), pre);
    std::copy(crop.pixels.begin(), crop.pixels.end(), crops.begin() + i * per_image);
  });
  return run_crops(state_->engine, crops.data(), n);
}

std::vector<std::vector<ClassScore>> Model::top_k(const Logits& logits, int k) const {
  if (k < 1) fail(kApi, "top_k(k)", std::to_string(k), ">= 1");
  if (logits.values.size() != static_cast<size_t>(logits.images * logits.classes)) {
    fail(kApi, "top_k(logits)", std::to_string(logits.values.size()) + " values",
         std::to_string(logits.images) + " x " + std::to_string(logits.classes));
  }
  const int64_t kk = std::min<int64_t>(k, logits.classes);
  std::vector<std::vector<ClassScore>> out(static_cast<size_t>(logits.images));
  for (int64_t i = 0; i < logits.images; ++i) {
    const float* row = logits.row(i);
    // Softmax in double, max-subtracted: probabilities for display, not part of any figure.
    const float top = *std::max_element(row, row + logits.classes);
    double sum = 0.0;
    for (int64_t c = 0; c < logits.classes; ++c) sum += std::exp(static_cast<double>(row[c]) - top);
    for (int64_t c : top_k_classes(row, logits.classes, kk)) {
      ClassScore score;
      score.index = static_cast<int>(c);
      score.logit = row[c];
      score.probability = static_cast<float>(std::exp(static_cast<double>(row[c]) - top) / sum);
      if (!state_->class_names.empty()) score.name = state_->class_names[static_cast<size_t>(c)];
      out[static_cast<size_t>(i)].push_back(std::move(score));
    }
  }
  return out;
}

std::vector<std::vector<ClassScore>> Model::classify(std::span<const ImageView> images, int k,
                                                     const RunOptions& run) const {
  if (k < 1) fail(kApi, "classify(k)", std::to_string(k), ">= 1");
  return top_k(logits(images, run), k);
}

std::vector<std::vector<ClassScore>> Model::classify_files(const std::vector<std::string>& paths, int k,
                                                           const RunOptions& run) const {
  if (k < 1) fail(kApi, "classify_files(k)", std::to_string(k), ">= 1");
  return top_k(logits_files(paths, run), k);
}

DecodedImage read_image(const std::string& path) {
  RgbImage image = decode_image_file(path);
  return {image.width, image.height, std::move(image.pixels)};
}

}  // namespace fqvit
