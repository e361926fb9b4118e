// Where a quantized model loses its accuracy: per quantizer, how far its tensor moves from FP32 on a few
// (calibration) images, and which channels dominate its range. `fqvit-calibrate --report FILE` prints and saves it.
//
// Two errors per activation point, both as SQNR (10 log10(sum x^2 / sum (x - x')^2), dB) and cosine similarity:
// - own: the quantizer alone, applied to the FP32 model's tensor at that point (what this quantizer costs);
// - model: the fake-quantized model's tensor at that point against the FP32 model's (everything upstream too).
// Weights get their own error (per-channel quantization of the weight tensor). Rows are sorted worst own SQNR first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fqvit/calibrate/quant_state.h"
#include "fqvit/core/tensor.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

struct ChannelMagnitude {
  int64_t channel = 0;
  float absmax = 0.0f;  // largest |x| of that channel over the images
};

struct QuantizerDiagnosis {
  std::string name;
  std::string kind;         // uniform, ptf, lis, weight
  std::string point_class;  // extensions.h point_class(), or "weight"
  std::string summary;      // the quantizer's one-line parameters
  int64_t channels = 0;
  double own_sqnr_db = 0, own_cosine = 0;
  bool has_model_error = false;  // weights have none
  double model_sqnr_db = 0, model_cosine = 0;
  float min = 0, max = 0;                  // FP32 range over the images
  float median_channel_absmax = 0;         // the typical channel
  std::vector<ChannelMagnitude> dominant;  // the largest channels, largest first (up to 3)
};

struct DiagnosisReport {
  int64_t images = 0;
  std::vector<QuantizerDiagnosis> rows;  // worst own SQNR first
};

// Runs every batch through `float_model` (FP32; hooks record every point) and through a copy of it with
// fake-quantized weights and the FakeQuantHooks of `state`, accumulating the errors above. Both run on
// `float_model`'s numerics; `float_model` is not changed (non-const only to read its weights).
DiagnosisReport diagnose_quantizers(VisionModel& float_model, const QuantState& state,
                                    const std::vector<Tensor>& batches);

// A fixed-width table of the `max_rows` worst rows (all when 0).
std::string diagnosis_table(const DiagnosisReport& report, size_t max_rows = 0);
// Writes the report to `path`: JSON when it ends in ".json", else the full table (markdown). Atomic (temp + rename).
void write_diagnosis(const DiagnosisReport& report, const std::string& path);

}  // namespace fqvit
