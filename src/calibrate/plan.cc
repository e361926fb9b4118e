#include "fqvit/calibrate/plan.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fqvit/calibrate/observer.h"
#include "fqvit/core/error.h"

namespace fqvit {
namespace {

// The one table of role rules (first match wins; anything else is a plain activation).
struct RoleRule {
  const char* pattern;
  QuantRole role;
};
const RoleRule kRoleRules[] = {
    {R"(qact1)", QuantRole::kResidual},                                  // ViT: embeddings + pos, before block 0
    {R"(blocks\.\d+\.qact[24])", QuantRole::kResidual},                  // ViT: after each residual add
    {R"(layers\.\d+\.blocks\.\d+\.qact[24])", QuantRole::kResidual},     // Swin: after each residual add
    {R"(layers\.\d+\.downsample\.qact2)", QuantRole::kResidual},         // Swin: patch-merging output
    {R"(.*\.log_int_softmax)", QuantRole::kAttention},                   // softmax output
};

void check_bits(int bits, const std::string& origin, const std::string& field) {
  if (!valid_bits(bits)) fail(origin, field, std::to_string(bits), "2..8");
}

}  // namespace

const char* role_name(QuantRole role) {
  switch (role) {
    case QuantRole::kWeight: return "weight";
    case QuantRole::kActivation: return "activation";
    case QuantRole::kResidual: return "residual";
    case QuantRole::kAttention: return "attention";
  }
  return "?";
}

QuantRole activation_role(const std::string& name) {
  static const std::vector<std::pair<std::regex, QuantRole>> rules = [] {
    std::vector<std::pair<std::regex, QuantRole>> r;
    for (const RoleRule& rule : kRoleRules) r.emplace_back(std::regex(rule.pattern), rule.role);
    return r;
  }();
  for (const auto& [re, role] : rules) {
    if (std::regex_match(name, re)) return role;
  }
  return QuantRole::kActivation;
}

void QuantSettings::validate(const std::string& origin) const {
  check_bits(w_bits, origin, "w_bits");
  check_bits(a_bits, origin, "a_bits");
  check_bits(attn_bits, origin, "attn_bits");
  if (method == "ptf" || !has_observer(method)) {
    fail(origin, "method", method, "minmax, ema, percentile or omse");
  }
  if (lis_exp_shift < 8 || lis_exp_shift > 30) fail(origin, "lis_exp_shift", std::to_string(lis_exp_shift), "8..30");
  for (const auto& [name, o] : layers) {
    if (o.bits) check_bits(*o.bits, origin, "layers." + name + ".bits");
    if (o.observer && !has_observer(*o.observer)) fail(origin, "layers." + name + ".observer", *o.observer,
                                                        "a known observer");
  }
  extensions.validate(origin);
}

std::string QuantSettings::to_json() const {
  nlohmann::json j;
  j["method"] = method;
  j["ptf"] = ptf;
  j["lis"] = lis;
  j["bits"] = {{"weight", w_bits}, {"activation", a_bits}, {"attention", attn_bits}};
  j["lis_exp_shift"] = lis_exp_shift;
  nlohmann::json l = nlohmann::json::object();
  for (const auto& [name, o] : layers) {
    nlohmann::json e = nlohmann::json::object();
    if (o.bits) e["bits"] = *o.bits;
    if (o.observer) e["observer"] = *o.observer;
    l[name] = e;
  }
  j["layers"] = l;
  if (extensions.any()) extensions_to_json(extensions, j["extensions"]);
  return j.dump();
}

QuantSettings parse_quant_settings(const std::string& json_text, const std::string& origin,
                                   const QuantSettings& base) {
  QuantSettings s = base;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    fail(origin, "json", e.what(), "a JSON object");
  }
  if (!j.is_object()) fail(origin, "json", j.type_name(), "a JSON object");
  static const std::set<std::string> kKeys = {"method", "ptf", "lis", "bits", "lis_exp_shift", "layers",
                                              "extensions", "description"};
  for (const auto& [key, value] : j.items()) {
    if (!kKeys.count(key)) {
      fail(origin, key, "an unknown key", "method, ptf, lis, bits, lis_exp_shift, layers, extensions");
    }
  }
  if (j.contains("extensions")) s.extensions = parse_extensions(j["extensions"], origin, s.extensions);
  try {
    if (j.contains("method")) s.method = j["method"].get<std::string>();
    if (j.contains("ptf")) s.ptf = j["ptf"].get<bool>();
    if (j.contains("lis")) s.lis = j["lis"].get<bool>();
    if (j.contains("lis_exp_shift")) s.lis_exp_shift = j["lis_exp_shift"].get<int>();
    if (j.contains("bits")) {
      const auto& b = j["bits"];
      if (b.contains("weight")) s.w_bits = b["weight"].get<int>();
      if (b.contains("activation")) s.a_bits = b["activation"].get<int>();
      if (b.contains("attention")) s.attn_bits = b["attention"].get<int>();
    }
    if (j.contains("layers")) {
      for (const auto& [name, value] : j["layers"].items()) {
        LayerOverride o;
        if (value.contains("bits")) o.bits = value["bits"].get<int>();
        if (value.contains("observer")) o.observer = value["observer"].get<std::string>();
        s.layers[name] = o;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fail(origin, "value", e.what(), "method: string, ptf/lis: bool, bits.*: int, layers.*.bits: int");
  }
  s.validate(origin);
  return s;
}

QuantSettings load_quant_settings(const std::string& path, const QuantSettings& base) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_quant_settings(ss.str(), path, base);
}

std::vector<QuantizerSpec> plan_activations(const VisionModel& model, const QuantSettings& s) {
  std::vector<QuantizerSpec> specs;
  for (const std::string& name : model.activation_points()) {
    QuantizerSpec q;
    q.name = name;
    q.role = activation_role(name);
    q.bit_type = {s.a_bits, false};
    q.observer = s.method;
    const Extensions& ext = s.extensions;
    const std::string cls = point_class(name, model.config().family);
    const auto role_observer = ext.observers.find(cls);
    if (role_observer != ext.observers.end()) q.observer = role_observer->second;
    if (q.role == QuantRole::kResidual && ext.residual_bits != 0) q.bit_type.bits = ext.residual_bits;
    const bool channel_input = ext.channel_inputs.count(cls) != 0 &&
                               !consuming_linears(name, model.config().family).empty();
    if ((q.role == QuantRole::kResidual && s.ptf) || (cls == "branch_output" && ext.branch_ptf) || channel_input) {
      q.observer = "ptf";
      q.ptf = ext.ptf();
    }
    if (q.role == QuantRole::kAttention) {
      q.bit_type = {s.attn_bits, false};
      q.lis = s.lis;
      if (q.lis) q.observer.clear();
    }
    const auto it = s.layers.find(name);
    if (it != s.layers.end()) {
      if (it->second.bits) q.bit_type.bits = *it->second.bits;
      if (it->second.observer && !q.lis) q.observer = *it->second.observer;
    }
    specs.push_back(q);
  }
  return specs;
}

std::vector<QuantizerSpec> plan_weights(VisionModel& model, const QuantSettings& s) {
  std::vector<QuantizerSpec> specs;
  for (const WeightRef& w : model.weights()) {
    QuantizerSpec q;
    q.name = w.name;
    q.role = QuantRole::kWeight;
    q.bit_type = {s.w_bits, true};
    const auto it = s.layers.find(w.name);
    if (it != s.layers.end() && it->second.bits) q.bit_type.bits = *it->second.bits;
    specs.push_back(q);
  }
  // Every override must name a quantizer of this model.
  std::set<std::string> known;
  for (const auto& q : specs) known.insert(q.name);
  for (const std::string& n : model.activation_points()) known.insert(n);
  for (const auto& [name, o] : s.layers) {
    if (!known.count(name)) fail("quantization config", "layers." + name, "not a quantizer of this model",
                                 "a module name such as head or blocks.0.attn.qact1");
  }
  return specs;
}

}  // namespace fqvit
