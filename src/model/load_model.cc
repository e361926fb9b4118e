#include <cmath>
#include <filesystem>

#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/model/swin_model.h"
#include "fqvit/model/vision_model.h"
#include "fqvit/model/vit_model.h"

namespace fqvit {

namespace {

// A NaN or inf weight makes every logit NaN, and calibration would write NaN scales: refuse it at load, naming it.
void check_finite_tensors(const SafetensorsFile& file) {
  for (const TensorInfo& t : file.tensors()) {
    if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16 && t.dtype != DType::kF64) continue;
    const Tensor v = file.load_float(t.name);
    for (int64_t i = 0; i < v.numel(); ++i) {
      if (!std::isfinite(v[i])) {
        fail(file.path(), t.name, "value " + std::to_string(v[i]) + " at flat index " + std::to_string(i),
             "finite numbers (no NaN or inf) in every float tensor");
      }
    }
  }
}

}  // namespace

// pos_embed (ViT) and the window grid (Swin) fix img_size, the patch convolution fixes the channels, and a crop of
// another size would read past pos_embed or mix windows.
void check_input_geometry(const ModelConfig& c) {
  const std::string origin = c.origin.empty() ? std::string("config.json") : c.origin;
  if (c.preprocess.input_size != c.img_size || c.in_chans != 3) {
    fail(origin, "pretrained_cfg.input_size",
         "[3, " + std::to_string(c.preprocess.input_size) + ", " + std::to_string(c.preprocess.input_size) + "]",
         "[" + std::to_string(c.in_chans) + ", " + std::to_string(c.img_size) + ", " + std::to_string(c.img_size) +
             "] (the checkpoint's " + (c.family == ModelFamily::kVit ? "pos_embed" : "patch grid") +
             " and patch_embed.proj.weight)");
  }
}

std::unique_ptr<VisionModel> load_model(ModelConfig config, const SafetensorsFile& file) {
  std::unique_ptr<VisionModel> model;
  switch (config.family) {
    case ModelFamily::kVit:
      model = VitModel::load(file, std::move(config));
      break;
    case ModelFamily::kSwin:
      model = SwinModel::load(file, std::move(config));
      break;
  }
  if (!model) fail(file.path(), "architecture", config.architecture, "a supported family (vit, deit, swin)");
  check_input_geometry(model->config());
  check_finite_tensors(file);
  return model;
}

std::unique_ptr<VisionModel> load_model(const std::string& checkpoint_dir) {
  if (!std::filesystem::is_directory(checkpoint_dir)) {
    fail(checkpoint_dir, "model", "not a directory", "a checkpoint directory with model.safetensors and config.json");
  }
  ModelConfig config = load_model_config(checkpoint_dir);
  return load_model(std::move(config), SafetensorsFile::open(checkpoint_dir + "/model.safetensors"));
}

}  // namespace fqvit
