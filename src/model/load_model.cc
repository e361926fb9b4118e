#include <filesystem>

#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/model/swin_model.h"
#include "fqvit/model/vision_model.h"
#include "fqvit/model/vit_model.h"

namespace fqvit {

std::unique_ptr<VisionModel> load_model(ModelConfig config, const SafetensorsFile& file) {
  switch (config.family) {
    case ModelFamily::kVit:
      return VitModel::load(file, std::move(config));
    case ModelFamily::kSwin:
      return SwinModel::load(file, std::move(config));
  }
  fail(file.path(), "architecture", config.architecture, "a supported family (vit, deit, swin)");
}

std::unique_ptr<VisionModel> load_model(const std::string& checkpoint_dir) {
  if (!std::filesystem::is_directory(checkpoint_dir)) {
    fail(checkpoint_dir, "model", "not a directory", "a checkpoint directory with model.safetensors and config.json");
  }
  ModelConfig config = load_model_config(checkpoint_dir);
  return load_model(std::move(config), SafetensorsFile::open(checkpoint_dir + "/model.safetensors"));
}

}  // namespace fqvit
