#include "fqvit/calibrate/model_file.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"

namespace fqvit {
namespace {

const std::string kQuantPrefix = kQuantizerTensorPrefix;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}



}  // namespace

namespace {

// The checkpoint tensor holding a model weight (or bias, suffix ".bias"): "<module><suffix>" when it has the same
// values, else the unused tensor with exactly the same values (other layouts name modules differently).
std::string find_checkpoint_tensor(const SafetensorsFile& ckpt, const std::string& module, const Tensor& weight,
                                   const std::set<std::string>& taken, const std::string& suffix = ".weight") {
  auto same = [&](const std::string& name) {
    const TensorInfo& t = ckpt.info(name);
    if (taken.count(name) || shape_numel(t.shape) != weight.numel() || t.shape.empty() || t.shape[0] != weight.dim(0)) {
      return false;
    }
    if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16) return false;
    const Tensor v = ckpt.load_float(name);
    return std::memcmp(v.data(), weight.data(), static_cast<size_t>(v.numel()) * sizeof(float)) == 0;
  };
  const std::string direct = module + suffix;
  if (ckpt.contains(direct) && same(direct)) return direct;
  for (const TensorInfo& t : ckpt.tensors()) {
    if (same(t.name)) return t.name;
  }
  fail(ckpt.path(), module, "no tensor with the weight's values", "the checkpoint tensor of this layer's weight");
}

}  // namespace

void save_quantized_model(const std::string& path, const std::string& checkpoint_dir, VisionModel& model,
                          const QuantState& state, const CalibrationInfo& calibration) {
  const SafetensorsFile ckpt = SafetensorsFile::open(checkpoint_dir + "/model.safetensors");
  SafetensorsWriter w;
  nlohmann::json weights = nlohmann::json::object(), activations = nlohmann::json::object();
  std::set<std::string> quantized;
  for (const WeightRef& ref : model.weights()) {
    const auto it = state.weights.find(ref.name);
    if (it == state.weights.end()) fail(path, ref.name, "no weight quantizer", "one per weight of the model");
    const WeightQuant& q = it->second;
    const std::string wname = find_checkpoint_tensor(ckpt, ref.name, *ref.weight, quantized);
    const Tensor& wt = *ref.weight;
    const int64_t out = wt.dim(0), k = wt.numel() / out;
    if (static_cast<int64_t>(q.scales.size()) != out) {
      fail(checkpoint_dir, wname, std::to_string(out) + " output channels",
           std::to_string(q.scales.size()) + " (the quantizer's scales)");
    }
    std::vector<int8_t> codes(static_cast<size_t>(wt.numel()));
    Tensor folded = wt;  // W[o, c] * 2^input_exponent[c] (exact), when the input carries channel factors
    for (int64_t i = 0; i < folded.numel() && !q.input_exponent.empty(); ++i) {
      folded[i] = std::ldexp(folded[i], q.input_exponent[static_cast<size_t>(i % k)]);
    }
    quantize_weight(folded.data(), out, k, q.scales.data(), q.bit_type, codes.data());
    const Shape shape = ckpt.info(wname).shape;
    w.add_values(wname, DType::kI8, shape, codes);
    w.add_values(wname + "_scale", DType::kF32, {out}, q.scales);
    if (!q.input_exponent.empty()) w.add_values(wname + "_input_exponent", DType::kI32, {k}, q.input_exponent);
    weights[ref.name] = {{"tensor", wname}, {"bits", q.bit_type.bits}, {"shape", shape}};
    quantized.insert(wname);
    if (!q.bias.empty() && ref.bias != nullptr) {  // bias_correction: the corrected float bias under its own name
      const std::string bname = find_checkpoint_tensor(ckpt, ref.name, *ref.bias, quantized, ".bias");
      w.add_values(bname, DType::kF32, ckpt.info(bname).shape, q.bias);
      quantized.insert(bname);
    }
  }
  for (const TensorInfo& t : ckpt.tensors()) {
    if (quantized.count(t.name)) continue;
    if (t.dtype == DType::kF32 || t.dtype == DType::kF16 || t.dtype == DType::kBF16 || t.dtype == DType::kF64) {
      w.add(t.name, ckpt.load_float(t.name));
    } else {
      w.add_raw(t.name, t.dtype, t.shape, ckpt.bytes(t.name));
    }
  }
  for (const auto& [name, q] : state.activations) {
    const QuantizerRecord r = q->record();
    nlohmann::json fields = nlohmann::json::array();
    for (const auto& [field, values] : r.floats) {
      w.add_values(kQuantPrefix + name + "." + field, DType::kF32, {static_cast<int64_t>(values.size())}, values);
      fields.push_back(field);
    }
    for (const auto& [field, values] : r.ints) {
      w.add_values(kQuantPrefix + name + "." + field, DType::kI32, {static_cast<int64_t>(values.size())}, values);
      fields.push_back(field);
    }
    activations[name] = {{"kind", r.kind}, {"bits", r.bit_type.bits}, {"signed", r.bit_type.is_signed},
                         {"fields", fields}};
  }
  const ModelConfig config = load_model_config(checkpoint_dir);
  w.set_metadata("format", kQuantFormatName);
  const int version = state.settings.extensions.any() ? kQuantFormatVersion : kQuantFormatVersionPlain;
  w.set_metadata("format_version", std::to_string(version));
  w.set_metadata("model_config", config.source.empty() ? read_text(checkpoint_dir + "/config.json") : config.source);
  w.set_metadata("quantization", nlohmann::json{{"settings", nlohmann::json::parse(state.settings.to_json())},
                                                {"int_layer_norm", state.int_layer_norm}}
                                     .dump());
  w.set_metadata("calibration", calibration.to_json());
  w.set_metadata("quantizers", nlohmann::json{{"weights", weights}, {"activations", activations}}.dump());
  w.write(path);
}

QuantizedModel read_quantized_model(const std::string& path) {
  const QuantizedFile file = read_quantized_file(path);
  QuantizedModel out;
  out.state.settings = parse_quant_settings(file.settings_json, path + " (__metadata__.quantization)");
  out.state.int_layer_norm = file.int_layer_norm.value_or(out.state.settings.ptf);
  out.calibration = file.calibration;
  // Weights are dequantized for the float graph: real = scale[o] * code.
  SafetensorsWriter ckpt;
  for (const auto& [name, w] : file.weights) {
    Tensor deq(w.shape);
    const int64_t k = deq.numel() / w.shape[0];
    for (int64_t i = 0; i < deq.numel(); ++i) {
      deq[i] = static_cast<float>(w.codes[static_cast<size_t>(i)]) * w.scales[static_cast<size_t>(i / k)];
      // Input factors folded into the columns (version 2): real = scale[o] * code / 2^e[i], exact in float.
      if (!w.input_exponent.empty()) deq[i] = std::ldexp(deq[i], -w.input_exponent[static_cast<size_t>(i % k)]);
    }
    ckpt.add(w.tensor, deq);
    out.state.weights[name] = {w.bit_type, w.scales, w.input_exponent, {}};
  }
  for (const auto& [name, record] : file.activations) {
    out.state.activations[name] = read_quantizer(record, path + " (quantizer " + name + ")");
  }
  for (const std::string& name : file.float_tensors) {
    const TensorInfo& t = file.file.info(name);
    if (t.dtype == DType::kF32) {
      ckpt.add(name, file.file.load_float(name));
    } else {
      ckpt.add_raw(name, t.dtype, t.shape, file.file.bytes(name));
    }
  }
  // The float graph loads from the stored config and the dequantized tensors, held in memory.
  out.model = load_model(parse_model_config(file.model_config, path + " (__metadata__.model_config)"),
                         SafetensorsFile::from_memory(path + " (dequantized)", ckpt.serialize()));
  out.state.check_complete(*out.model, path);
  return out;
}

std::unique_ptr<FakeQuantModel> load_fake_quant_model(const std::string& path, std::optional<Numerics> numerics) {
  QuantizedModel q = read_quantized_model(path);
  const std::string& recorded = q.calibration.numerics;
  if (!numerics) {
    numerics = recorded.empty() ? Numerics::kTorch
                                : parse_numerics(recorded, path, "__metadata__.calibration.numerics");
  }
  q.model->set_numerics(*numerics);
  return std::make_unique<FakeQuantModel>(std::move(q.model), std::move(q.state), path);
}

}  // namespace fqvit
