#include "fqvit/calibrate/extensions.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fqvit/calibrate/observer.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/core/error.h"
#include "fqvit/model/swin_names.h"
#include "fqvit/model/vit_names.h"
#include "fqvit/quant/bit_type.h"

namespace fqvit {
namespace {

// The point classes per family, read off the point tables (vit_names.h, swin_names.h). Residual and attention
// points are classed by their role (plan.h); a point of no class here is "activation".
const char* vit_class(VitPoint point) {
  switch (point) {
    case VitPoint::kInput: return "input";
    case VitPoint::kPatchEmbed: case VitPoint::kClsEmbed: case VitPoint::kPosEmbed: return "embed";
    case VitPoint::kNorm1: case VitPoint::kNorm2: case VitPoint::kFinalNorm: return "ln_output";
    case VitPoint::kQkv: return "qkv";
    case VitPoint::kScores: return "logits";
    case VitPoint::kContext: return "attn_v";
    case VitPoint::kProj: case VitPoint::kFc2: return "branch_output";
    case VitPoint::kFc1: return "gelu_output";
    case VitPoint::kLogits: case VitPoint::kLogitsDist: return "head_output";
    default: return "activation";
  }
}

const char* swin_class(SwinPoint point) {
  switch (point) {
    case SwinPoint::kInput: return "input";
    case SwinPoint::kPatchEmbed: case SwinPoint::kPatchNorm: return "embed";
    case SwinPoint::kNorm1: case SwinPoint::kNorm2: case SwinPoint::kMergeNorm: case SwinPoint::kFinalNorm:
    case SwinPoint::kPooled: return "ln_output";
    case SwinPoint::kQkv: return "qkv";
    case SwinPoint::kScores: case SwinPoint::kBiasTable: case SwinPoint::kScoresBiased: return "logits";
    case SwinPoint::kContext: return "attn_v";
    case SwinPoint::kProj: case SwinPoint::kFc2: return "branch_output";
    case SwinPoint::kFc1: return "gelu_output";
    case SwinPoint::kLogits: return "head_output";
    default: return "activation";
  }
}

// A weight quantizer's name: its module's, the weight tensor's name without ".weight".
std::string module_of(const std::string& weight_name) {
  return weight_name.substr(0, weight_name.size() - std::string(".weight").size());
}

// The linears that read point `point` of block `block` (the tensor tables name their weights).
std::vector<std::string> vit_consumers(VitPoint point, int block) {
  const auto w = [&](VitTensor t) { return module_of(vit_tensor_name(t, block)); };
  switch (point) {
    case VitPoint::kNorm1: return {w(VitTensor::kQkvWeight)};
    case VitPoint::kNorm2: return {w(VitTensor::kFc1Weight)};
    case VitPoint::kFc1: return {w(VitTensor::kFc2Weight)};
    case VitPoint::kContext: return {w(VitTensor::kProjWeight)};
    case VitPoint::kFinalNorm: return {w(VitTensor::kHeadWeight), w(VitTensor::kHeadDistWeight)};
    default: return {};
  }
}

// Quantizer names are the official layout's (swin_names.h), whatever the checkpoint's.
std::vector<std::string> swin_consumers(SwinPoint point, int stage, int block) {
  const auto w = [&](SwinTensor t) { return module_of(swin_tensor_name(t, SwinLayout::kOfficial, stage, block)); };
  switch (point) {
    case SwinPoint::kNorm1: return {w(SwinTensor::kQkvWeight)};
    case SwinPoint::kNorm2: return {w(SwinTensor::kFc1Weight)};
    case SwinPoint::kFc1: return {w(SwinTensor::kFc2Weight)};
    case SwinPoint::kContext: return {w(SwinTensor::kProjWeight)};
    case SwinPoint::kMergeNorm: return {module_of(swin_tensor_name(SwinTensor::kMergeReduction, SwinLayout::kOfficial,
                                                                   stage))};
    case SwinPoint::kPooled: return {w(SwinTensor::kHeadWeight)};
    default: return {};
  }
}

}  // namespace

std::vector<std::string> consuming_linears(const std::string& name, ModelFamily family) {
  if (family == ModelFamily::kSwin) {
    SwinPoint point;
    int stage, block;
    return parse_swin_point(name, &point, &stage, &block) ? swin_consumers(point, stage, block)
                                                          : std::vector<std::string>{};
  }
  VitPoint point;
  int block;
  return parse_vit_point(name, &point, &block) ? vit_consumers(point, block) : std::vector<std::string>{};
}

const std::vector<std::string>& point_classes() {
  static const std::vector<std::string> kClasses = {"input",  "embed",         "ln_output",   "qkv",
                                                    "logits", "attn_v",        "branch_output", "gelu_output",
                                                    "head_output", "residual", "attention",   "activation"};
  return kClasses;
}

std::string point_class(const std::string& name, ModelFamily family) {
  const QuantRole role = activation_role(name);
  if (role == QuantRole::kResidual) return "residual";
  if (role == QuantRole::kAttention) return "attention";
  if (family == ModelFamily::kSwin) {
    SwinPoint point;
    int stage, block;
    return parse_swin_point(name, &point, &stage, &block) ? swin_class(point) : "activation";
  }
  VitPoint point;
  int block;
  return parse_vit_point(name, &point, &block) ? vit_class(point) : "activation";
}

bool Extensions::any() const {
  return ptf_k != kPtfMaxAlpha || ptf_k_auto || ptf_channel_zero_point || branch_ptf || residual_bits != 0 ||
         !channel_inputs.empty() || lis_refined_logits || bias_correction ||
         !observers.empty();
}

bool Extensions::wide_layer_norm() const {
  return ptf_k != kPtfMaxAlpha || ptf_k_auto || ptf_channel_zero_point || residual_bits > kMaxBits;
}

void Extensions::validate(const std::string& origin) const {
  if (ptf_k < 1 || ptf_k > kPtfMaxK) {
    fail(origin, "extensions.ptf_k", std::to_string(ptf_k), "1.." + std::to_string(kPtfMaxK) + " or \"auto\"");
  }
  if (residual_bits != 0 && !valid_activation_bits(residual_bits)) {
    fail(origin, "extensions.residual_bits", std::to_string(residual_bits),
         "2.." + std::to_string(kMaxActivationBits));
  }
  for (const std::string& cls : channel_inputs) {
    if (cls != "ln_output" && cls != "gelu_output" && cls != "attn_v") {
      fail(origin, "extensions.channel_inputs", cls, "ln_output, gelu_output or attn_v");
    }
  }
  const auto& classes = point_classes();
  for (const auto& [cls, observer] : observers) {
    if (std::find(classes.begin(), classes.end(), cls) == classes.end()) {
      fail(origin, "extensions.observers." + cls, "an unknown point class",
           "input, embed, ln_output, qkv, logits, attn_v, branch_output, gelu_output, head_output, residual, "
           "attention or activation");
    }
    if (observer == "ptf" || !has_observer(observer)) {
      fail(origin, "extensions.observers." + cls, observer, "minmax, ema, percentile or omse");
    }
  }
}

Extensions parse_extensions(const nlohmann::json& j, const std::string& origin, const Extensions& base) {
  Extensions e = base;
  if (!j.is_object()) fail(origin, "extensions", j.type_name(), "a JSON object");
  static const std::set<std::string> kKeys = {"ptf_k", "ptf_zero_point", "branch_outputs", "residual_bits",
                                              "channel_inputs", "lis_logits", "bias_correction",
                                              "observers"};
  for (const auto& [key, value] : j.items()) {
    if (!kKeys.count(key)) {
      fail(origin, "extensions." + key, "an unknown key",
           "ptf_k, ptf_zero_point, branch_outputs, residual_bits, channel_inputs, lis_logits, bias_correction or "
           "observers");
    }
  }
  auto choice = [&](const char* key, const char* off, const char* on) {
    const std::string v = j.at(key).get<std::string>();
    if (v != off && v != on) fail(origin, std::string("extensions.") + key, v, std::string(off) + " or " + on);
    return v == on;
  };
  try {
    if (j.contains("ptf_k")) {
      const auto& k = j["ptf_k"];
      if (k.is_string()) {
        if (k.get<std::string>() != "auto") fail(origin, "extensions.ptf_k", k.get<std::string>(), "\"auto\" or 1..10");
        e.ptf_k_auto = true;
      } else {
        e.ptf_k = k.get<int>();
        e.ptf_k_auto = false;
      }
    }
    if (j.contains("ptf_zero_point")) e.ptf_channel_zero_point = choice("ptf_zero_point", "shared", "channel");
    if (j.contains("branch_outputs")) e.branch_ptf = choice("branch_outputs", "tensor", "ptf");
    if (j.contains("residual_bits")) e.residual_bits = j["residual_bits"].get<int>();
    if (j.contains("lis_logits")) e.lis_refined_logits = choice("lis_logits", "reference", "refined");
    if (j.contains("bias_correction")) e.bias_correction = j["bias_correction"].get<bool>();
    if (j.contains("channel_inputs")) e.channel_inputs = j["channel_inputs"].get<std::set<std::string>>();
    if (j.contains("observers")) {
      for (const auto& [cls, obs] : j["observers"].items()) e.observers[cls] = obs.get<std::string>();
    }
  } catch (const nlohmann::json::exception& ex) {
    fail(origin, "extensions", ex.what(),
         "ptf_k: int or \"auto\", ptf_zero_point / branch_outputs / lis_logits: string, residual_bits: int, bias_correction: "
         "bool, channel_inputs: list of strings, observers: object");
  }
  e.validate(origin);
  return e;
}

void extensions_to_json(const Extensions& e, nlohmann::json& out) {
  out = nlohmann::json::object();
  if (e.ptf_k_auto) out["ptf_k"] = "auto";
  else if (e.ptf_k != kPtfMaxAlpha) out["ptf_k"] = e.ptf_k;
  if (e.ptf_channel_zero_point) out["ptf_zero_point"] = "channel";
  if (e.branch_ptf) out["branch_outputs"] = "ptf";
  if (e.residual_bits != 0) out["residual_bits"] = e.residual_bits;
  if (!e.channel_inputs.empty()) out["channel_inputs"] = e.channel_inputs;
  if (e.lis_refined_logits) out["lis_logits"] = "refined";
  if (e.bias_correction) out["bias_correction"] = true;
  if (!e.observers.empty()) out["observers"] = e.observers;
}

}  // namespace fqvit
