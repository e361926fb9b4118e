// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/calibrate/quant_state.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

int64_t out_channels(const Tensor& w) { return w.dim(0); }
int64_t per_channel(const Tensor& w) { return w.numel() / w.dim(0); }

}  // namespace

void QuantState::check_complete(VisionModel& model, const std::string& origin) const {
  for (const WeightRef& w : model.weights()) {
    const auto it = weights.find(w.name);
    if (it == weights.end()) fail(origin, w.name, "no weight quantizer", "int8 codes and per-channel scales");
    if (static_cast<int64_t>(it->second.scales.size()) != out_channels(*w.weight)) {
      fail(origin, w.name + ".weight_scale", std::to_string(it->second.scales.size()) + " scales",
           std::to_string(out_channels(*w.weight)) + " (output channels)");
    }
    const auto& e = it->second.input_exponent;
    if (!e.empty() && static_cast<int64_t>(e.size()) != per_channel(*w.weight)) {
      fail(origin, w.name + ".weight_input_exponent", std::to_string(e.size()) + " exponents",
           std::to_string(per_channel(*w.weight)) + " (input columns)");
    }
    // A weight scale divides in quantization and multiplies in dequantization: it must be a positive finite number.
    const std::vector<float>& scales = it->second.scales;
    for (size_t c = 0; c < scales.size(); ++c) {
      if (!(std::isfinite(scales[c]) && scales[c] > 0.0f)) {
        fail(origin, w.name + ".weight_scale", "scale " + std::to_string(scales[c]) + " for output channel " +
                         std::to_string(c), "a positive finite number");
      }
    }
  }
  for (const std::string& name : model.activation_points()) {
    const auto it = activations.find(name);
    if (it == activations.end() || !it->second) {
      fail(origin, name, "no activation quantizer", "one quantizer per activation point of the model");
    }
  }
  // PTF exponents cover the residual stream's channels (ViT: embed_dim; Swin stages vary and are checked by use).
  for (const auto& [name, q] : activations) {
    if (q->kind() != "ptf" || activation_role(name) != QuantRole::kResidual) continue;
    const size_t c = static_cast<const PtfQuantizer&>(*q).params().alpha.size();
    if (static_cast<int64_t>(c) != model.config().embed_dim && model.config().family == ModelFamily::kVit) {
      fail(origin, name + ".alpha", std::to_string(c) + " channels",
           std::to_string(model.config().embed_dim) + " (embed_dim)");
    }
  }
}

std::map<std::string, WeightQuant> fit_weights(VisionModel& model, const std::vector<QuantizerSpec>& specs) {
  std::map<std::string, BitType> bits;
  for (const QuantizerSpec& s : specs) bits[s.name] = s.bit_type;
  std::map<std::string, WeightQuant> out;
  for (const WeightRef& w : model.weights()) {
    WeightQuant q;
    q.bit_type = bits.count(w.name) ? bits[w.name] : kInt8;
    q.scales.resize(static_cast<size_t>(out_channels(*w.weight)));
    weight_channel_scales(w.weight->data(), out_channels(*w.weight), per_channel(*w.weight), q.bit_type,
                          q.scales.data());
    out[w.name] = std::move(q);
  }
  return out;
}

namespace {

// W[o, c] *= 2^e[c] (sign = 1) or /= 2^e[c] (sign = -1): exact in float (powers of two).
void scale_columns(Tensor& w, const std::vector<int32_t>& e, int sign) {
  const int64_t k = per_channel(w);
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = std::ldexp(w[i], sign * e[static_cast<size_t>(i % k)]);
}

}  // namespace

void fold_channel_inputs(VisionModel& model, QuantState& state) {
  const ModelFamily family = model.config().family;
  for (const WeightRef& w : model.weights()) {
    for (const auto& [point, q] : state.activations) {
      if (q->kind() != "ptf" || !state.settings.extensions.channel_inputs.count(point_class(point, family))) continue;
      const std::vector<std::string> linears = consuming_linears(point, family);
      if (std::find(linears.begin(), linears.end(), w.name) == linears.end()) continue;
      const auto& alpha = static_cast<const PtfQuantizer&>(*q).params().alpha;
      if (static_cast<int64_t>(alpha.size()) != per_channel(*w.weight)) {
        fail("calibration", point + ".alpha", std::to_string(alpha.size()) + " channels",
             std::to_string(per_channel(*w.weight)) + " (input columns of " + w.name + ")");
      }
      WeightQuant& wq = state.weights.at(w.name);
      wq.input_exponent.assign(alpha.begin(), alpha.end());
      Tensor scaled = *w.weight;
      scale_columns(scaled, wq.input_exponent, 1);
      weight_channel_scales(scaled.data(), out_channels(scaled), per_channel(scaled), wq.bit_type, wq.scales.data());
    }
  }
}

void correct_biases(VisionModel& model, QuantState& state,
                    const std::map<std::string, std::vector<double>>& input_means) {
  const ModelFamily family = model.config().family;
  for (const WeightRef& w : model.weights()) {
    if (w.bias == nullptr) continue;
    for (const auto& [point, mean] : input_means) {
      const std::vector<std::string> linears = consuming_linears(point, family);
      if (std::find(linears.begin(), linears.end(), w.name) == linears.end()) continue;
      const int64_t out = out_channels(*w.weight), k = per_channel(*w.weight);
      if (static_cast<int64_t>(mean.size()) != k) {
        fail("calibration", point + " channel means", std::to_string(mean.size()) + " channels",
             std::to_string(k) + " (input columns of " + w.name + ")");
      }
      WeightQuant& wq = state.weights.at(w.name);
      Tensor quantized = *w.weight;
      fake_quant_weight_tensor(quantized, wq);
      wq.bias.resize(static_cast<size_t>(out));
      for (int64_t o = 0; o < out; ++o) {
        double error = 0;  // (W_q - W)[o, :] . E[x]
        for (int64_t c = 0; c < k; ++c) {
          const int64_t i = o * k + c;
          error += (static_cast<double>(quantized[i]) - static_cast<double>((*w.weight)[i])) * mean[static_cast<size_t>(c)];
        }
        wq.bias[static_cast<size_t>(o)] = static_cast<float>(static_cast<double>((*w.bias)[o]) - error);
      }
    }
  }
}

void fake_quant_weight_tensor(Tensor& weight, const WeightQuant& q) {
  if (!q.input_exponent.empty()) scale_columns(weight, q.input_exponent, 1);
  fake_quant_weight(weight.data(), out_channels(weight), per_channel(weight), q.scales.data(), q.bit_type);
  if (!q.input_exponent.empty()) scale_columns(weight, q.input_exponent, -1);
}

void fake_quantize_weights(VisionModel& model, const QuantState& state) {
  for (const WeightRef& w : model.weights()) {
    const WeightQuant& q = state.weights.at(w.name);
    fake_quant_weight_tensor(*w.weight, q);
    if (!q.bias.empty() && w.bias != nullptr) std::copy(q.bias.begin(), q.bias.end(), w.bias->data());
  }
}

QuantState load_reference_qparams(const std::string& path, int lis_exp_shift) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open the reference parameter file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(path, "json", e.what(), "a JSON object");
  }
  if (!j.contains("quantizers") || !j["quantizers"].is_object()) fail(path, "quantizers", "missing", "an object");
  QuantState state;
  state.int_layer_norm = false;
  state.settings.lis = false;
  state.settings.ptf = false;
  state.settings.lis_exp_shift = lis_exp_shift;
  auto floats = [&](const nlohmann::json& e, const std::string& key, const std::string& name) {
    if (!e.contains(key) || !e[key].is_array() || e[key].empty()) fail(path, name + "." + key, "missing", "a list");
    std::vector<float> v;
    for (const auto& x : e[key]) v.push_back(static_cast<float>(x.get<double>()));
    return v;
  };
  for (const auto& [name, e] : j["quantizers"].items()) {
    BitType bt;
    if (!parse_bit_type(e.value("bit_type", ""), &bt)) fail(path, name + ".bit_type", e.value("bit_type", ""),
                                                            "int<b> or uint<b>, b in 2..8");
    const std::string type = e.value("module_type", "");
    if (type == "QLinear" || type == "QConv2d") {
      state.weights[name] = {bt, floats(e, "scale", name), {}, {}};
      state.settings.w_bits = bt.bits;
    } else if (type == "QIntSoftmax" && e.value("log_i_softmax", false)) {
      state.activations[name] = std::make_unique<LisQuantizer>(LisParams{bt.bits, lis_exp_shift});
      state.settings.lis = true;
      state.settings.attn_bits = bt.bits;
    } else if (e.value("observer", "") == "ptf") {
      PtfParams p;
      p.bit_type = bt;
      p.scale1 = static_cast<float>(e.at("ptf_scale1").get<double>());
      p.zero_point = static_cast<int32_t>(floats(e, "zero_point", name)[0]);
      for (const auto& a : e.at("ptf_alpha")) p.alpha.push_back(static_cast<uint8_t>(a.get<int>()));
      state.activations[name] = std::make_unique<PtfQuantizer>(std::move(p));
      state.settings.ptf = true;
      state.int_layer_norm = true;
    } else if (type == "QAct" || type == "QIntSoftmax") {
      const QParams qp{floats(e, "scale", name)[0], static_cast<int32_t>(floats(e, "zero_point", name)[0])};
      state.activations[name] = std::make_unique<UniformQuantizer>(qp, bt);
      if (type == "QIntSoftmax") state.settings.attn_bits = bt.bits;
      else state.settings.a_bits = bt.bits;
    } else {
      fail(path, name + ".module_type", type, "QLinear, QConv2d, QAct or QIntSoftmax");
    }
  }
  state.settings.method = "minmax";
  return state;
}

}  // namespace fqvit
