// The summary of an evaluation run as fqvit-eval --json writes it; the Python module's evaluate() returns the same
// object, so both are built here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "fqvit/eval/evaluate.h"

namespace fqvit {

struct EvalRunInfo {
  std::string engine;
  std::string numerics;  // the engine's float arithmetic (Engine::numerics)
  std::string model;
  std::string data;
  int batch_size = 0;
  int threads = 0;
};

// {top1, top5, images, top1_correct, top5_correct, images_per_second, model_images_per_second, skipped,
//  nonfinite_logits, engine, numerics, model, data, batch_size, threads}
nlohmann::json eval_report_json(const EvalResult& result, const EvalRunInfo& run);

}  // namespace fqvit
