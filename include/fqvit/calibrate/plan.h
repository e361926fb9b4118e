// Where the quantizers go and how each is fitted: the reference's placement for ViT/DeiT/Swin, by stable module name,
// with the method and bit-widths of a calibration run, overridable per role and per layer.
//
// Roles (as the reference's Config): weights -> int<w> symmetric per output channel, MinMax; activations -> uint<a>
// per tensor with the run's observer; residual (LayerNorm inputs: ViT qact1 / blocks.i.qact2 / blocks.i.qact4, Swin
// blocks' qact2 / qact4 and downsample.qact2) -> PTF when enabled, else like activations; attention (softmax output,
// *.log_int_softmax) -> LIS uint<attn> log2 when enabled, else uniform uint<attn> with the run's observer.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fqvit/calibrate/extensions.h"
#include "fqvit/model/vision_model.h"
#include "fqvit/quant/bit_type.h"
#include "fqvit/quant/log_int_softmax.h"

namespace fqvit {

enum class QuantRole { kWeight, kActivation, kResidual, kAttention };
const char* role_name(QuantRole role);

// Per-layer override (JSON "layers": {"head": {"bits": 8}, "blocks.0.attn.qact1": {"observer": "omse"}}).
struct LayerOverride {
  std::optional<int> bits;
  std::optional<std::string> observer;  // activations only
};

struct QuantSettings {
  std::string method = "minmax";  // observer of activations: minmax | ema | percentile | omse
  bool ptf = true;                // PTF on LayerNorm inputs + integer LayerNorm
  bool lis = true;                // Log-Int-Softmax on attention
  int w_bits = 8;
  int a_bits = 8;
  int attn_bits = 4;
  int lis_exp_shift = kLisReferenceShift;
  std::map<std::string, LayerOverride> layers;
  Extensions extensions;  // beyond the reference (extensions.h); all off by default

  // Throws Error naming `origin` for bits outside 2..8, an unknown method, or an exp shift outside 8..30.
  void validate(const std::string& origin) const;
  std::string to_json() const;
};

// Reads a preset / config file: {"method", "ptf", "lis", "bits": {"weight", "activation", "attention"},
// "lis_exp_shift", "layers": {...}, "extensions": {...}}; absent keys keep `base`. Throws Error naming the file and key.
QuantSettings load_quant_settings(const std::string& path, const QuantSettings& base = {});
QuantSettings parse_quant_settings(const std::string& json_text, const std::string& origin,
                                   const QuantSettings& base = {});

struct QuantizerSpec {
  std::string name;
  QuantRole role = QuantRole::kActivation;
  BitType bit_type;
  std::string observer;  // activations: observer name; "" for weights and LIS
  bool lis = false;      // attention through Log-Int-Softmax
  PtfOptions ptf;        // how a "ptf" observer fits
};

// The role of an activation quantizer point, from its name.
QuantRole activation_role(const std::string& name);

// Every activation point of `model` (activation_points()) and every weight (weights()), with the run's choices.
// Throws Error for an override naming a layer the model does not have.
std::vector<QuantizerSpec> plan_activations(const VisionModel& model, const QuantSettings& settings);
std::vector<QuantizerSpec> plan_weights(VisionModel& model, const QuantSettings& settings);

}  // namespace fqvit
