// The engines fqvit-eval can run a model with: "fp32" (the float graph of a checkpoint directory), and the quantized
// engines of a quantized model file as they land ("fake": quantize-dequantize in float as the reference does).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fqvit/eval/evaluate.h"
#include "fqvit/io/model_config.h"
#include "fqvit/numerics/float_kernels.h"

namespace fqvit {

struct Engine {
  std::string name;
  ModelConfig config;
  std::string numerics;  // the float arithmetic actually used ("fast" or "torch", float_kernels.h)
  ForwardFn forward;
  std::shared_ptr<void> state;  // keeps the model alive for `forward`
};

std::vector<std::string> engine_names();

// Opens `model_path` (a checkpoint directory, or a quantized model file) for `engine`; throws Error for a
// combination that cannot run (e.g. fp32 on a quantized file).
// `numerics` picks the float arithmetic (float_kernels.h); unset, fp32 runs fast and fake runs what the file was
// calibrated on.
Engine open_engine(const std::string& engine, const std::string& model_path,
                   std::optional<Numerics> numerics = std::nullopt);

}  // namespace fqvit
