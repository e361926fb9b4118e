#include "fqvit/eval/engine.h"

#include <filesystem>

#include "fqvit/calibrate/fake_quant_model.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/core/error.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

std::vector<std::string> engine_names() { return {"fp32", "fake"}; }

Engine open_engine(const std::string& engine, const std::string& model_path, std::optional<Numerics> numerics) {
  if (engine == "fp32") {
    if (!std::filesystem::is_directory(model_path)) {
      fail(model_path, "--model", "not a directory", "a checkpoint directory (model.safetensors + config.json) for --engine fp32");
    }
    std::shared_ptr<VisionModel> model = load_model(model_path);
    model->set_numerics(numerics.value_or(Numerics::kFast));
    VisionModel* raw = model.get();
    return Engine{engine, model->config(), to_string(model->numerics()),
                  [raw](const Tensor& x) { return raw->forward(x); }, model};
  }
  if (engine == "fake") {
    if (std::filesystem::is_directory(model_path)) {
      fail(model_path, "--model", "a float checkpoint directory",
           "a quantized model file from fqvit-calibrate for --engine fake");
    }
    std::shared_ptr<FakeQuantModel> model = load_fake_quant_model(model_path, numerics);
    FakeQuantModel* raw = model.get();
    return Engine{engine, model->config(), to_string(model->numerics()),
                  [raw](const Tensor& x) { return raw->forward(x); }, model};
  }
  std::string names;
  for (const auto& n : engine_names()) names += (names.empty() ? "" : ", ") + n;
  fail("fqvit-eval", "--engine", engine, names);
}

}  // namespace fqvit
