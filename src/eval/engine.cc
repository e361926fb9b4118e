#include "fqvit/eval/engine.h"

#include <filesystem>

#include <malloc.h>

#include "fqvit/calibrate/fake_quant_model.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/core/error.h"
#include "fqvit/int_exec/executor.h"
#include "fqvit/lower/lower.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

std::vector<std::string> engine_names() { return {"fp32", "int", "fake"}; }

std::string default_engine(const std::string& model_path) {
  return std::filesystem::is_regular_file(model_path) ? "int" : "fp32";  // a missing path: fp32's error names it
}

namespace {

// The integer engine: the lowered plan and its executor; scores become float logits (score * scale) only here, outside
// the executor, for the evaluation loop and --save-logits.
struct IntEngineState {
  LoweredModel lowered;
  IntExecutor executor;
};

}  // namespace

Engine open_engine(const std::string& engine, const std::string& model_path, std::optional<Numerics> numerics) {
  if (engine == "fp32") {
    if (!std::filesystem::is_directory(model_path)) {
      fail(model_path, "--model", "not a directory", "a checkpoint directory (model.safetensors + config.json) for --engine fp32");
    }
    std::shared_ptr<VisionModel> model = load_model(model_path);
    model->set_numerics(numerics.value_or(Numerics::kFast));
    VisionModel* raw = model.get();
    return Engine{engine, model->config(), to_string(model->numerics()),
                  [raw](const Tensor& x) { return raw->forward(x); }, {}, "", model};
  }
  if (engine == "int") {
    if (std::filesystem::is_directory(model_path)) {
      fail(model_path, "--model", "a float checkpoint directory",
           "a quantized model file from fqvit-calibrate for --engine int");
    }
    if (numerics) {
      fail(model_path, "--numerics", to_string(*numerics), "no --numerics with --engine int (no float inside)");
    }
    LoweredModel lowered = lower_quantized_model(model_path);
    // The lowering's temporaries (the file's row-major codes and float tensors) are gone; hand their freed pages
    // back to the OS (glibc keeps them otherwise), so the engine's resident memory is the plan's.
    malloc_trim(0);
    auto st = std::make_shared<IntEngineState>(IntEngineState{lowered, IntExecutor(lowered.plan)});
    IntEngineState* raw = st.get();
    Engine e{engine, lowered.config, "none", {}, {}, describe_plan(*lowered.plan), st};
    e.forward_pixels = [raw](const uint8_t* pixels, int64_t batch) {
      const int64_t classes = raw->executor.plan().classes;
      std::vector<int32_t> scores(static_cast<size_t>(batch * classes));
      raw->executor.run(pixels, batch, scores.data());
      Tensor logits = Tensor::uninitialized({batch, classes});
      const auto scale = static_cast<float>(raw->lowered.score_scale);
      for (int64_t i = 0; i < batch * classes; ++i) {
        logits[i] = static_cast<float>(scores[static_cast<size_t>(i)]) * scale;
      }
      return logits;
    };
    return e;
  }
  if (engine == "fake") {
    if (std::filesystem::is_directory(model_path)) {
      fail(model_path, "--model", "a float checkpoint directory",
           "a quantized model file from fqvit-calibrate for --engine fake");
    }
    std::shared_ptr<FakeQuantModel> model = load_fake_quant_model(model_path, numerics);
    FakeQuantModel* raw = model.get();
    return Engine{engine, model->config(), to_string(model->numerics()),
                  [raw](const Tensor& x) { return raw->forward(x); }, {}, "", model};
  }
  std::string names;
  for (const auto& n : engine_names()) names += (names.empty() ? "" : ", ") + n;
  fail("fqvit-eval", "--engine", engine, names);
}

bool int_scores(const Engine& engine, const uint8_t* pixels, int64_t batch, std::vector<int32_t>* scores,
                double* scale) {
  if (engine.name != "int" || !engine.state) return false;
  const auto* st = static_cast<const IntEngineState*>(engine.state.get());
  scores->resize(static_cast<size_t>(batch * st->executor.plan().classes));
  st->executor.run(pixels, batch, scores->data());
  *scale = st->lowered.score_scale;
  return true;
}

}  // namespace fqvit
