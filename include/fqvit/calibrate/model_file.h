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

namespace fqvit {

constexpr const char* kQuantFormatName = "fqvit-quantized";
// Version 2 adds the fqvit_plus fields (per-channel PTF zero points, exponents above 3, 16-bit activation codes,
// <weight>_input_exponent, settings.extensions); a file without any of them is written as version 1, so a
// version-1 reader never misreads one. This reader reads both.
constexpr int kQuantFormatVersion = 2;
constexpr int kQuantFormatVersionPlain = 1;

// How the calibration ran, recorded in the file.
struct CalibrationInfo {
  std::string calib_dir;
  std::string class_list;
  std::string calib_list;        // the file that fixed the order, if any
  std::string order;             // "shuffle" (std::mt19937_64 with seed) or "list"
  uint64_t seed = 0;
  int64_t images_requested = 0;
  int64_t images_used = 0;
  int64_t batch_size = 0;
  std::string numerics;          // float arithmetic of the calibration passes: "torch" or "fast"
  double seconds = 0;
  std::string to_json() const;
};

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

// Reads a quantized model file. Throws Error naming the file and the field for another format or version, a missing
// quantizer, or tensors that disagree with the metadata (shape, dtype, codes out of range).
QuantizedModel read_quantized_model(const std::string& path);

// The fake-quant executor of a quantized model file (what `fqvit-eval --engine fake` runs). Unless `numerics` says
// otherwise it runs on the float arithmetic the file was calibrated on (torch for files that do not say), so the
// quantizers see the statistics they were fitted to.
std::unique_ptr<FakeQuantModel> load_fake_quant_model(const std::string& path,
                                                      std::optional<Numerics> numerics = std::nullopt);

}  // namespace fqvit
