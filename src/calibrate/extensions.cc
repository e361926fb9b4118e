#include "fqvit/calibrate/extensions.h"

#include <algorithm>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "fqvit/calibrate/observer.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/core/error.h"
#include "fqvit/quant/bit_type.h"

namespace fqvit {
namespace {

// The one table of point classes per family (first match wins). Residual and attention points are classed by
// their role (plan.h); anything unmatched is "activation".
struct ClassRule {
  const char* pattern;
  const char* cls;
};
const ClassRule kVitRules[] = {
    {R"(qact_input)", "input"},
    {R"(patch_embed\.qact|qact_embed|qact_pos)", "embed"},
    {R"(blocks\.\d+\.qact[13]|qact2)", "ln_output"},
    {R"(blocks\.\d+\.attn\.qact1)", "qkv"},
    {R"(blocks\.\d+\.attn\.qact_attn1)", "logits"},
    {R"(blocks\.\d+\.attn\.qact2)", "attn_v"},
    {R"(blocks\.\d+\.(attn\.qact3|mlp\.qact2))", "branch_output"},
    {R"(blocks\.\d+\.mlp\.qact1)", "gelu_output"},
    {R"(act_out(_dist)?)", "head_output"},
};
const ClassRule kSwinRules[] = {
    {R"(qact_input)", "input"},
    {R"(patch_embed\.qact(_before_norm)?)", "embed"},
    {R"(layers\.\d+\.blocks\.\d+\.qact[13]|layers\.\d+\.downsample\.qact1|qact[23])", "ln_output"},
    {R"(layers\.\d+\.blocks\.\d+\.attn\.qact1)", "qkv"},
    {R"(layers\.\d+\.blocks\.\d+\.attn\.(qact_attn1|qact_table|qact2))", "logits"},
    {R"(layers\.\d+\.blocks\.\d+\.attn\.qact3)", "attn_v"},
    {R"(layers\.\d+\.blocks\.\d+\.(attn\.qact4|mlp\.qact2))", "branch_output"},
    {R"(layers\.\d+\.blocks\.\d+\.mlp\.qact1)", "gelu_output"},
    {R"(act_out)", "head_output"},
};

// Activation point -> the linear(s) reading it (regex, replacement).
struct ConsumerRule {
  const char* pattern;
  const char* linear;
};
const ConsumerRule kVitConsumers[] = {
    {R"((blocks\.\d+\.)qact1)", "$1attn.qkv"},
    {R"((blocks\.\d+\.)qact3)", "$1mlp.fc1"},
    {R"((blocks\.\d+\.)mlp\.qact1)", "$1mlp.fc2"},
    {R"((blocks\.\d+\.)attn\.qact2)", "$1attn.proj"},
    {R"(qact2)", "head"},
    {R"(qact2)", "head_dist"},
};
const ConsumerRule kSwinConsumers[] = {
    {R"((layers\.\d+\.blocks\.\d+\.)qact1)", "$1attn.qkv"},
    {R"((layers\.\d+\.blocks\.\d+\.)qact3)", "$1mlp.fc1"},
    {R"((layers\.\d+\.blocks\.\d+\.)mlp\.qact1)", "$1mlp.fc2"},
    {R"((layers\.\d+\.blocks\.\d+\.)attn\.qact3)", "$1attn.proj"},
    {R"((layers\.\d+\.downsample\.)qact1)", "$1reduction"},
    {R"(qact3)", "head"},
};

using CompiledRules = std::vector<std::pair<std::regex, std::string>>;

template <size_t N>
CompiledRules compile(const ClassRule (&rules)[N]) {
  CompiledRules out;
  for (const ClassRule& r : rules) out.emplace_back(std::regex(r.pattern), r.cls);
  return out;
}

}  // namespace

std::vector<std::string> consuming_linears(const std::string& name, ModelFamily family) {
  static const auto compile_consumers = [](const auto& rules) {
    std::vector<std::pair<std::regex, std::string>> out;
    for (const ConsumerRule& r : rules) out.emplace_back(std::regex(r.pattern), r.linear);
    return out;
  };
  static const auto vit = compile_consumers(kVitConsumers), swin = compile_consumers(kSwinConsumers);
  std::vector<std::string> linears;
  for (const auto& [re, linear] : family == ModelFamily::kSwin ? swin : vit) {
    if (std::regex_match(name, re)) linears.push_back(std::regex_replace(name, re, linear));
  }
  return linears;
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
  static const CompiledRules vit = compile(kVitRules), swin = compile(kSwinRules);
  for (const auto& [re, cls] : family == ModelFamily::kSwin ? swin : vit) {
    if (std::regex_match(name, re)) return cls;
  }
  return "activation";
}

bool Extensions::any() const {
  return ptf_k != kPtfMaxAlpha || ptf_k_auto || ptf_channel_zero_point || branch_ptf || residual_bits != 0 ||
         !channel_inputs.empty() || !observers.empty();
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
                                              "channel_inputs", "observers"};
  for (const auto& [key, value] : j.items()) {
    if (!kKeys.count(key)) {
      fail(origin, "extensions." + key, "an unknown key",
           "ptf_k, ptf_zero_point, branch_outputs, residual_bits, channel_inputs or observers");
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
    if (j.contains("channel_inputs")) e.channel_inputs = j["channel_inputs"].get<std::set<std::string>>();
    if (j.contains("observers")) {
      for (const auto& [cls, obs] : j["observers"].items()) e.observers[cls] = obs.get<std::string>();
    }
  } catch (const nlohmann::json::exception& ex) {
    fail(origin, "extensions", ex.what(),
         "ptf_k: int or \"auto\", ptf_zero_point / branch_outputs: string, residual_bits: int, channel_inputs: "
         "list of strings, observers: object");
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
  if (!e.observers.empty()) out["observers"] = e.observers;
}

}  // namespace fqvit
