// Everything a calibration run fixes: per-channel weight scales and a fitted quantizer per activation point.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fqvit/calibrate/plan.h"
#include "fqvit/calibrate/quantizer.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

// Symmetric per-output-channel weight quantization: real = scales[o] * q, q in bit_type's range. With
// input_exponent (extension "channel_inputs": the layer's input carries per-channel power-of-two factors 2^e[c]),
// the codes are those of the reparameterized weight W[o, c] * 2^e[c], and real = scales[o] * q / 2^e[c]: the
// integer GEMM runs on the input codes as they are and the factors live in the weight.
struct WeightQuant {
  BitType bit_type = kInt8;
  std::vector<float> scales;
  std::vector<int32_t> input_exponent;  // empty, or one per input column (the weight's last axis)
  std::vector<float> bias;              // the corrected bias (extension bias_correction), else empty: the model's
};

struct QuantState {
  QuantSettings settings;
  bool int_layer_norm = true;  // the reference's QIntLayerNorm "int" mode (on with PTF)
  std::map<std::string, WeightQuant> weights;
  std::map<std::string, std::unique_ptr<ActivationQuantizer>> activations;

  // Throws Error naming `origin` when the model has a weight or activation point without a quantizer, or a
  // quantizer's shape disagrees with the model (weight channels, PTF channels).
  void check_complete(VisionModel& model, const std::string& origin) const;
};

// Per-channel scales of every weight from the model's own weights (MinMax, as the reference).
std::map<std::string, WeightQuant> fit_weights(VisionModel& model, const std::vector<QuantizerSpec>& specs);

// Folds the per-channel power-of-two factors of every channel-input quantizer (a PTF quantizer on a linear's input,
// extensions.h "channel_inputs") into its consuming linears: sets input_exponent = alpha and refits the scales on
// the reparameterized weight.
void fold_channel_inputs(VisionModel& model, QuantState& state);

// Extension bias_correction: for every linear whose input point has a mean in `input_means` (per channel, FP32,
// over the calibration images), bias = b - (W_q - W) E[x] in double (the mean of the weight quantization's output
// error removed), stored in the weight's quantizer; a linear without a bias (Swin's reduction) is left alone.
void correct_biases(VisionModel& model, QuantState& state,
                    const std::map<std::string, std::vector<double>>& input_means);

// Quantize-dequantize one weight tensor [out, ...] in place with its quantizer (input exponents included).
void fake_quant_weight_tensor(Tensor& weight, const WeightQuant& q);

// Replaces the model's weights by their quantize-dequantize (fake quantization, as the reference's QLinear/QConv2d)
// and the biases by the corrected ones where the state has them.
void fake_quantize_weights(VisionModel& model, const QuantState& state);

// Loads the reference's calibrated-parameter dump (shared/reference/golden_vit_tiny_qparams*.json) into a state.
// LIS entries become LIS quantizers with `lis_exp_shift`. Throws Error naming the file for malformed entries.
QuantState load_reference_qparams(const std::string& json_path, int lis_exp_shift = kLisReferenceShift);

}  // namespace fqvit
