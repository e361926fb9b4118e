// The engines fqvit-eval can run a model with: "fp32" (the float graph of a checkpoint directory), and the engines of
// a quantized model file: "int" (the integer-only executor, the default for a file) and "fake" (quantize-dequantize
// in float as the reference does).
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
  std::string numerics;            // the float arithmetic actually used ("fast" or "torch", float_kernels.h);
                                   // "none" for int
  ForwardFn forward;               // fp32, fake: normalized float images
  PixelForwardFn forward_pixels;   // int: uint8 center crops (set instead of `forward`)
  std::string plan;                // int: the integer plan, one line per op (--print-plan)
  std::shared_ptr<void> state;     // keeps the model alive for the forward functions
};

std::vector<std::string> engine_names();
// The engine for `model_path` when none is named: fp32 for a checkpoint directory, int for a quantized file.
std::string default_engine(const std::string& model_path);

// Opens `model_path` (a checkpoint directory, or a quantized model file) for `engine`; throws Error for a
// combination that cannot run (e.g. fp32 on a quantized file).
// `numerics` picks the float arithmetic (float_kernels.h); unset, fp32 runs fast and fake runs what the file was
// calibrated on.
Engine open_engine(const std::string& engine, const std::string& model_path,
                   std::optional<Numerics> numerics = std::nullopt);

}  // namespace fqvit
