// fqvit's public C++ API: load a model once, classify images from any number of threads, calibrate a checkpoint
// into a quantized file, evaluate a folder. docs/api.md has the walk-through; this header is the reference.
//
//   fqvit::Model model = fqvit::Model::load("vit_tiny.w8a8attn4.safetensors", {.class_list = "classes.txt"});
//   for (const fqvit::ClassScore& c : model.classify_files({"cat.jpg"})[0]) std::printf("%s %.3f\n", c.name.c_str(), c.probability);
//
// Errors: every function here reports bad input (a file, a config field, an argument) by throwing fqvit::Error,
// whose what() is one line "<file>: <field>: found <found>, expected <expected>" and whose accessors return the four
// parts. Anything else thrown (std::bad_alloc, ...) is not an input error.
//
// Threads: a loaded Model is immutable. Its weights (quantized and packed at load), configuration and class names
// are shared by every call; each call allocates its own inputs, intermediates and outputs. So any number of threads
// may call the const methods of one Model (or of copies of it, which share the same loaded state) at once. Each call
// computes on `threads` OpenMP threads of its own (RunOptions), so N concurrent calls use up to N * threads cores.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fqvit/core/error.h"

namespace fqvit {

struct LoadOptions {
  // Which executor runs the model. "" picks: "int" (the integer-only executor) for a quantized model file, "fp32"
  // for a float checkpoint directory (model.safetensors + config.json). "fake" runs a quantized file in fake
  // quantization (float), as the FQ-ViT reference evaluates. Names as fqvit-eval --engine.
  std::string engine;
  // Float arithmetic of the fp32 and fake engines: "" (fp32: fast; fake: what the file was calibrated on), "fast",
  // or "torch" (bit-identical to PyTorch 1.13). See docs/quantization.md, section 6.
  std::string numerics;
  // A class list ("index wnid [name]" per line, or one name per line) naming the model's classes in ClassScore;
  // it must name every class. Empty: scores carry indices only.
  std::string class_list;
  // Compute threads per call (0 = all cores), unless a call's RunOptions says otherwise.
  int threads = 0;
};

struct RunOptions {
  int threads = -1;  // -1: the model's LoadOptions::threads; 0: all cores; n > 0: n threads
};

// A decoded 8-bit RGB image that the caller owns: interleaved R, G, B, rows top to bottom, no padding
// (3 * width * height bytes).
struct ImageView {
  const uint8_t* rgb = nullptr;
  int width = 0;
  int height = 0;
};

// An image decoded from a JPEG or PNG file with exactly the pixels Pillow's Image.open(path).convert("RGB") gives.
struct DecodedImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
  ImageView view() const { return {rgb.data(), width, height}; }
};
DecodedImage read_image(const std::string& path);

// Logits of a batch, [images, classes] row-major.
struct Logits {
  int64_t images = 0;
  int64_t classes = 0;
  std::vector<float> values;   // the real-valued logits
  // Engines that compute the classifier in integers ("int") also give its int32 outputs: values[i] = scale *
  // codes[i]. Empty for the float engines (fp32, fake).
  std::vector<int32_t> codes;
  float scale = 0.0f;
  const float* row(int64_t image) const { return values.data() + image * classes; }
};

struct ClassScore {
  int index = 0;            // class index (model output)
  float logit = 0.0f;
  float probability = 0.0f;  // softmax over all classes
  std::string name;         // from LoadOptions::class_list; empty without one
};

class Model {
 public:
  // Loads and validates `path` (a quantized model file from fqvit-calibrate / fqvit::calibrate, or a float checkpoint
  // directory) once; throws Error naming the file and field for anything it refuses (docs/format.md).
  static Model load(const std::string& path, const LoadOptions& options = {});

  const std::string& engine() const;        // the engine that runs it ("int", "fake" or "fp32")
  const std::string& architecture() const;  // timm name, e.g. "vit_tiny_patch16_224"
  int input_size() const;                   // S: images are S x S after preprocessing
  int num_classes() const;
  const std::vector<std::string>& class_names() const;  // by index; empty without a class list

  // Images already resized and cropped to S x S: uint8 RGB, NHWC, `nhwc.size()` = images * S * S * 3. They are
  // normalized with the model's mean / std (torchvision's ToTensor + Normalize) and run as one batch.
  Logits logits(std::span<const uint8_t> nhwc, const RunOptions& run = {}) const;
  // Decoded images of any size, preprocessed with the model's own eval transform (config.json's pretrained_cfg:
  // resize the shorter side to S / crop_pct with its interpolation, center crop S, normalize), one batch.
  Logits logits(std::span<const ImageView> images, const RunOptions& run = {}) const;
  // JPEG / PNG files, decoded (as Pillow) and preprocessed as above, one batch. Throws Error naming a file that
  // cannot be read or decoded.
  Logits logits_files(const std::vector<std::string>& paths, const RunOptions& run = {}) const;

  // The k best classes of each image, best first, ties in torch.topk's order (k is clamped to the class count).
  std::vector<std::vector<ClassScore>> top_k(const Logits& logits, int k = 5) const;
  std::vector<std::vector<ClassScore>> classify(std::span<const ImageView> images, int k = 5,
                                                const RunOptions& run = {}) const;
  std::vector<std::vector<ClassScore>> classify_files(const std::vector<std::string>& paths, int k = 5,
                                                      const RunOptions& run = {}) const;

 private:
  struct State;
  explicit Model(std::shared_ptr<const State> state);
  std::shared_ptr<const State> state_;
};

// FQ-ViT post-training calibration of a float checkpoint into a quantized model file (what fqvit-calibrate does;
// the same defaults: MinMax + PTF + LIS, W8/A8/Attn4, torch numerics, 1000 images in batches of 100).
struct CalibrateOptions {
  std::string model;        // checkpoint directory (model.safetensors + config.json)
  std::string out;          // quantized model file to write (atomically: nothing is left behind on error)
  // The images: either `images_dir` (an ImageFolder, shuffled with `seed` unless `calib_list` fixes the order; the
  // first `images` of them), or `image_paths` (these files, in this order, all of them).
  std::string images_dir;
  std::vector<std::string> image_paths;
  std::string class_list;   // recorded in the file; checks `images_dir`'s folders
  std::string calib_list;   // file of paths relative to images_dir fixing the order
  int images = 1000;
  uint64_t seed = 0;
  std::string config;       // quantization preset JSON (configs/*.json); the fields below override it when set
  std::string method;       // "" = the preset's (default minmax) | minmax | ema | percentile | omse
  int ptf = -1;             // -1 = the preset's (default on), 0 = off, 1 = on
  int lis = -1;             // -1 = the preset's (default on), 0 = off, 1 = on
  int w_bits = 0;           // 0 = the preset's (default 8); else 2..8
  int a_bits = 0;           // 0 = the preset's (default 8)
  int attn_bits = 0;        // 0 = the preset's (default 4)
  std::string numerics = "torch";  // float arithmetic of the calibration passes
  int batch = 100;          // images per pass; the last pass fixes the quantizers
  int threads = 0;          // compute threads (0 = all cores)
  int decode_threads = 1;
  bool progress = false;    // a progress bar on stderr (when it is a terminal)
};

struct CalibrationSummary {
  std::string out;
  int64_t images = 0;       // calibration images used (corrupt ones are skipped)
  double seconds = 0.0;
};
CalibrationSummary calibrate(const CalibrateOptions& options);

// Top-1 / top-5 of a model over an ImageFolder, as fqvit-eval computes them.
struct EvaluateOptions {
  std::string model;        // quantized file or checkpoint directory
  std::string data;         // ImageFolder directory
  std::string class_list;
  std::string labels;       // "relative/path index" lines; overrides folder labels
  std::string engine;       // as LoadOptions::engine ("" picks)
  std::string numerics;
  int batch_size = 8;
  int threads = 0;
  int decode_threads = 1;
  int limit = 0;            // only the first N images (0 = all)
  std::string shard;        // "I/N": only block I of N of the image list (fqvit-report --merge adds them up)
  bool progress = false;
};

struct EvaluationReport {
  double top1 = 0.0;        // percent
  double top5 = 0.0;
  int64_t images = 0;
  int64_t top1_correct = 0;
  int64_t top5_correct = 0;
  int64_t skipped = 0;      // images that could not be decoded
  int64_t nonfinite_logits = 0;  // images whose logits hold a NaN or inf (counted as wrong)
  double images_per_second = 0.0;
  std::string engine;
  std::string json;         // the record fqvit-eval --json writes (per-image predictions too), same keys and values
};
EvaluationReport evaluate(const EvaluateOptions& options);

}  // namespace fqvit
