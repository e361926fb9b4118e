// The quantized model file (docs/format.md) as stored, without building any float graph (library fqvit_quant_file):
// int8 weight codes with their per-channel scales, every activation quantizer's record, the float tensors the
// graph still needs (left in the file), and from __metadata__ the stored config.json, the quantization settings
// and the calibration record. The fake-quant loader (calibrate/model_file.h) and the lowering build on it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fqvit/io/safetensors.h"
#include "fqvit/quant/bit_type.h"
#include "fqvit/quant/quantizer_record.h"

namespace fqvit {

constexpr const char* kQuantFormatName = "fqvit-quantized";
// Version 2 adds the fqvit_plus fields (per-channel PTF zero points, exponents above 3, 16-bit activation codes,
// <weight>_input_exponent, settings.extensions); a file without any of them is written as version 1, so a
// version-1 reader never misreads one. This reader reads both.
constexpr int kQuantFormatVersion = 2;
constexpr int kQuantFormatVersionPlain = 1;
// Activation quantizer parameters are tensors named <prefix><point>.<field>, e.g. quant.blocks.0.qact1.scale.
constexpr const char* kQuantizerTensorPrefix = "quant.";

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

// One quantized weight: symmetric per output channel, real = scales[o] * codes[o, i] (zero point 0).
struct QuantizedWeight {
  std::string tensor;            // its name in the file (the checkpoint's own tensor name)
  BitType bit_type;
  Shape shape;                   // [out, ...]
  std::vector<int8_t> codes;     // row-major, every code within bit_type
  std::vector<float> scales;     // out entries
  // Version 2, optional (<tensor>_input_exponent): the input's per-channel factors 2^e[i] folded into the columns,
  // real = scales[o] * codes[o, i] / 2^e[i]; empty, or one per input column, each in 0..kPtfMaxK.
  std::vector<int32_t> input_exponent;
};

struct QuantizedFile {
  SafetensorsFile file;                                    // for the float tensors below
  std::string model_config;                                // the float model's config.json text
  std::string settings_json;                               // __metadata__.quantization.settings, JSON text
  std::optional<bool> int_layer_norm;                      // absent in files that predate the field
  CalibrationInfo calibration;
  std::map<std::string, QuantizedWeight> weights;          // by module name ("blocks.0.attn.qkv")
  std::map<std::string, QuantizerRecord> activations;      // by point name ("blocks.0.attn.qact1")
  std::vector<std::string> float_tensors;                  // every other tensor of the file (graph floats)
};

// Reads and checks a quantized model file. Throws Error naming the file and the field, the value found and the
// value expected, for another format or version, a missing or mistyped metadata key, a missing quantizer tensor,
// or tensors that disagree with the metadata (shape, dtype, codes out of range).
QuantizedFile read_quantized_file(const std::string& path);

}  // namespace fqvit
