// Shared by the integer-executor tests: quantized model files made in the test (demo models calibrated on a few
// images, ViT-Tiny with the reference's own calibrated parameters), images as both uint8 crops and normalized
// floats, and fake-quant hooks that record every point's integer codes.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/hooks.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/core/tensor.h"
#include "fqvit/io/dataset.h"
#include "fqvit/io/image.h"
#include "fqvit/io/preprocess.h"
#include "fqvit/quant/log_int_softmax.h"
#include "lower/lower_ops.h"
#include "test_paths.h"

namespace fqvit::testing {

// The first `n` images of an ImageFolder (sorted order) as float batches and as uint8 CHW crops.
struct Images {
  Tensor normalized;            // [n, 3, S, S]
  std::vector<uint8_t> pixels;  // [n][3][S][S]
  int64_t count = 0;
};

inline Images load_images(const std::vector<LabeledImage>& list, const PreprocessConfig& pre) {
  Images out;
  out.count = static_cast<int64_t>(list.size());
  const int64_t s = pre.input_size, plane = 3 * s * s;
  out.normalized = Tensor({out.count, 3, s, s});
  out.pixels.resize(static_cast<size_t>(out.count * plane));
  for (int64_t i = 0; i < out.count; ++i) {
    const RgbImage image = decode_image_file(list[static_cast<size_t>(i)].path);
    preprocess_image(image, pre, out.normalized.data() + i * plane);
    const RgbImage crop = resize_and_crop(image, pre);
    for (int64_t j = 0; j < s * s; ++j) {
      for (int64_t c = 0; c < 3; ++c) out.pixels[static_cast<size_t>(i * plane + c * s * s + j)] = crop.pixels[static_cast<size_t>(3 * j + c)];
    }
  }
  return out;
}

inline std::vector<LabeledImage> first_images(const std::string& root, const std::string& class_list, size_t n,
                                              size_t stride = 1) {
  const auto all = ImageFolder::open(root, {class_list, ""}).images();
  std::vector<LabeledImage> out;
  for (size_t i = 0; i < all.size() && out.size() < n; i += stride) out.push_back(all[i]);
  return out;
}

// Calibrates the demo model `name` (demo/models) with `config` (configs/*.json) on 100 demo calibration images in
// two batches and writes the quantized file; returns its path.
inline std::string calibrate_dir(const std::string& dir, const std::string& name, const std::string& config) {
  auto model = load_model(dir);
  model->set_numerics(Numerics::kTorch);
  const QuantSettings settings = load_quant_settings(source_dir() + "/configs/" + config + ".json");
  Calibrator calib(*model, settings);
  const auto images = first_images(source_dir() + "/demo/data/calib", source_dir() + "/demo/data/classes.txt", 100);
  const PreprocessConfig pre = model->config().preprocess;
  for (int b = 0; b < 2; ++b) {
    const std::vector<LabeledImage> part(images.begin() + 50 * b, images.begin() + 50 * (b + 1));
    calib.observe(load_images(part, pre).normalized, b == 1);
  }
  const QuantState state = calib.finish();
  const std::string path = scratch_dir("int_" + name + "_" + config) + "/q.safetensors";
  CalibrationInfo info;
  info.order = "test";
  info.numerics = "torch";
  auto float_model = load_model(dir);
  save_quantized_model(path, dir, *float_model, state, info);
  return path;
}
inline std::string calibrate_demo(const std::string& name, const std::string& config) {
  return calibrate_dir(source_dir() + "/demo/models/" + name, name, config);
}

// ViT-Tiny (../shared) quantized with the reference's own calibrated parameters, no calibration run.
inline std::string reference_vit_tiny(const std::string& shared, const std::string& qparams_json, int lis_exp_shift) {
  const std::string dir = shared + "/models/vit_tiny_patch16_224";
  QuantState state = load_reference_qparams(shared + "/reference/" + qparams_json, lis_exp_shift);
  const std::string path = scratch_dir("int_vit_tiny_" + qparams_json) + "/q.safetensors";
  CalibrationInfo info;
  info.order = "reference";
  info.numerics = "torch";
  auto model = load_model(dir);
  save_quantized_model(path, dir, *model, state, info);
  return path;
}

// Fake quantization that records the integer code of every point it quantizes: rows of codes per point, in
// call order (a point called once per forward).
class RecordingHooks final : public QuantHooks {
 public:
  RecordingHooks(const QuantState& state, const std::string& origin) : inner_(state), state_(state), origin_(origin) {}

  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    inner_.activation(name, x, rows, channels);
    const lower::ActQuant q = lower::act_quant(state_.activations.at(name)->record(), name, origin_);
    std::vector<uint8_t>& out = codes[name];
    out.resize(static_cast<size_t>(rows * channels));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < channels; ++c) {
        const auto s = static_cast<float>(q.channel_scale(c));
        out[static_cast<size_t>(r * channels + c)] =
            static_cast<uint8_t>(std::lrint(x[r * channels + c] / s) + q.zero_point);
      }
    }
  }
  bool layer_norm(const std::string& in, const std::string& out, const float* x, int64_t rows, int64_t channels,
                  const Tensor& gamma, const Tensor& beta, float* y) override {
    return inner_.layer_norm(in, out, x, rows, channels, gamma, beta, y);
  }
  bool softmax(const std::string& name, const std::string& logits, float* x, int64_t rows, int64_t cols) override {
    if (!inner_.softmax(name, logits, x, rows, cols)) return false;
    const lower::ActQuant q = lower::act_quant(state_.activations.at(name)->record(), name, origin_);
    std::vector<uint8_t>& out = codes[name];
    out.resize(static_cast<size_t>(rows * cols));
    for (int64_t i = 0; i < rows * cols; ++i) {  // 2^-k, or 0 for the zero code
      out[static_cast<size_t>(i)] = x[i] == 0.0f ? lis_zero_code(q.bits) : static_cast<uint8_t>(-std::ilogb(x[i]));
    }
    return true;
  }

  std::map<std::string, std::vector<uint8_t>> codes;

 private:
  FakeQuantHooks inner_;
  const QuantState& state_;
  std::string origin_;
};

}  // namespace fqvit::testing
