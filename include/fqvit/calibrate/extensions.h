// Extensions beyond the reference (docs/quantization.md section 11), each a named option of the quantization config
// under "extensions", all off by default and in the paper presets, on together in configs/fqvit_plus.json:
//
//   "ptf_k": 3..10 | "auto"          PTF's largest exponent K (reference 3); "auto" takes it from the calibration
//                                    range: ceil(log2(widest channel range / median channel range)), clamped 3..10
//   "ptf_zero_point": "shared" | "channel"   one zero point (reference) or one per channel
//   "branch_outputs": "tensor" | "ptf"       the branch outputs feeding the residual adds (attention proj, fc2)
//                                    per tensor (reference) or with per-channel power-of-two factors, like PTF
//   "residual_bits": 2..16           code width of the residual stream (LayerNorm inputs); default the
//                                    activation bits; 16 = int16 codes between blocks
//   "channel_inputs": [class, ...]   inputs of linears (ln_output, gelu_output, attn_v) with per-channel
//                                    power-of-two factors and zero points (a PTF quantizer), the factors folded
//                                    into the consuming linear's weight columns (RepQ-ViT's reparameterization)
//   "lis_logits": "reference" | "refined"   i-exp of Log-Int-Softmax on the logit scale S (reference) or on the
//                                    exact codes q 2^m at the finer scale S 2^-m (m from S: lis_logit_shift), so
//                                    that its constants do not degenerate for coarse (4- or 6-bit) logits
//   "bias_correction": true | false  each linear's bias minus its weight quantization's mean output error,
//                                    (W_q - W) E[x], E[x] the per-channel mean of its FP32 input over every
//                                    calibration image (Nagel et al. 2019's empirical bias correction)
//   "observers": {class: observer}   the observer of one class of activation points (point_class()), e.g.
//                                    {"gelu_output": "omse"}
//
// Every choice an extension makes (K, alpha, zero points, observer fits) comes from calibration data only.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "fqvit/io/model_config.h"
#include "fqvit/quant/ptf.h"

namespace fqvit {

// How a PTF observer fits (the reference: K = 3, one zero point).
struct PtfOptions {
  int k = kPtfMaxAlpha;
  bool adaptive_k = false;
  bool channel_zero_point = false;
  bool operator==(const PtfOptions&) const = default;
};

struct Extensions {
  int ptf_k = kPtfMaxAlpha;
  bool ptf_k_auto = false;
  bool ptf_channel_zero_point = false;
  bool branch_ptf = false;
  int residual_bits = 0;  // 0: the activation bits
  std::set<std::string> channel_inputs;
  bool lis_refined_logits = false;
  bool bias_correction = false;
  std::map<std::string, std::string> observers;

  bool any() const;
  // True when the residual stream leaves the reference's arithmetic (K > 3, per-channel zero points, wide codes):
  // the integer LayerNorm then sums in int64 as the executor will (int_layer_norm_wide), not in torch's float32.
  bool wide_layer_norm() const;
  PtfOptions ptf() const { return {ptf_k, ptf_k_auto, ptf_channel_zero_point}; }

  // Throws Error naming `origin` and the field for values out of range or unknown classes / observers.
  void validate(const std::string& origin) const;
};

// Reads the "extensions" object (absent keys keep `base`); throws Error naming origin and the key.
Extensions parse_extensions(const nlohmann::json& j, const std::string& origin, const Extensions& base);
// The "extensions" object (empty when none is on).
void extensions_to_json(const Extensions& e, nlohmann::json& out);

// The class of an activation point, from one table per family: input, embed, ln_output, qkv, logits, attn_v,
// branch_output, gelu_output, head_output, residual, attention.
std::string point_class(const std::string& name, ModelFamily family);
const std::vector<std::string>& point_classes();

// The linear layer (a WeightRef name) whose input is activation point `name`, when the family's table knows one:
// ViT blocks.i.qact1 -> blocks.i.attn.qkv, blocks.i.qact3 -> blocks.i.mlp.fc1, blocks.i.mlp.qact1 ->
// blocks.i.mlp.fc2, blocks.i.attn.qact2 -> blocks.i.attn.proj, qact2 -> head (and head_dist); Swin likewise.
std::vector<std::string> consuming_linears(const std::string& name, ModelFamily family);

}  // namespace fqvit
