// The quantized model file (docs/format.md): a safetensors container with int8 weight codes and per-channel scales,
// every activation quantizer's parameters, the float tensors the graph still needs, and in __metadata__ the format
// name and version, the float model's config.json, the quantization settings and the calibration record.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fqvit/calibrate/fake_quant_model.h"
#include "fqvit/calibrate/quant_state.h"
#include "fqvit/quant/quantized_file.h"

namespace fqvit {

// Writes `state` for the checkpoint in `checkpoint_dir` (config.json + model.safetensors), whose float graph is
// `model` (unmodified weights), to `path`, atomically. Weight codes are stored under the checkpoint's own tensor
// names (found by name, else by content), so any checkpoint layout the loader accepts round-trips.
void save_quantized_model(const std::string& path, const std::string& checkpoint_dir, VisionModel& model,
                          const QuantState& state, const CalibrationInfo& calibration);

struct QuantizedModel {
  std::unique_ptr<VisionModel> model;  // the float graph with dequantized (= fake-quantized) weights
  QuantState state;
  CalibrationInfo calibration;
};

// Reads a quantized model file (read_quantized_file) and builds its float graph with dequantized weights. Throws
// Error naming the file and the field for anything read_quantized_file refuses, or a missing quantizer.
QuantizedModel read_quantized_model(const std::string& path);

// The fake-quant executor of a quantized model file (what `fqvit-eval --engine fake` runs). Unless `numerics` says
// otherwise it runs on the float arithmetic the file was calibrated on (torch for files that do not say), so the
// quantizers see the statistics they were fitted to.
std::unique_ptr<FakeQuantModel> load_fake_quant_model(const std::string& path,
                                                      std::optional<Numerics> numerics = std::nullopt);

}  // namespace fqvit
