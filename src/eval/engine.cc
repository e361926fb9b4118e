#include "fqvit/eval/engine.h"

#include <filesystem>

#include "fqvit/core/error.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

std::vector<std::string> engine_names() { return {"fp32"}; }

Engine open_engine(const std::string& engine, const std::string& model_path) {
  if (engine == "fp32") {
    if (!std::filesystem::is_directory(model_path)) {
      fail(model_path, "--model", "not a directory", "a checkpoint directory (model.safetensors + config.json) for --engine fp32");
    }
    std::shared_ptr<VisionModel> model = load_model(model_path);
    VisionModel* raw = model.get();
    return Engine{engine, model->config(), [raw](const Tensor& x) { return raw->forward(x); }, model};
  }
  std::string names;
  for (const auto& n : engine_names()) names += (names.empty() ? "" : ", ") + n;
  fail("fqvit-eval", "--engine", engine, names);
}

}  // namespace fqvit
