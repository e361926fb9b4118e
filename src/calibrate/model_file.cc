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

const std::string kQuantPrefix = "quant.";

nlohmann::json parse_json(const std::string& text, const std::string& path, const std::string& field) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, field, e.what(), "JSON text");
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}



}  // namespace

std::string CalibrationInfo::to_json() const {
  return nlohmann::json{{"calib_dir", calib_dir},
                        {"class_list", class_list},
                        {"calib_list", calib_list},
                        {"order", order},
                        {"seed", seed},
                        {"images_requested", images_requested},
                        {"images_used", images_used},
                        {"batch_size", batch_size},
                        {"numerics", numerics},
                        {"seconds", seconds}}
      .dump();
}

namespace {

// The checkpoint tensor holding a model weight: "<module>.weight" when it has the same values, else the unused
// tensor with exactly the same values (other layouts name modules differently).
std::string find_checkpoint_tensor(const SafetensorsFile& ckpt, const std::string& module, const Tensor& weight,
                                   const std::set<std::string>& taken) {
  auto same = [&](const std::string& name) {
    const TensorInfo& t = ckpt.info(name);
    if (taken.count(name) || shape_numel(t.shape) != weight.numel() || t.shape.empty() || t.shape[0] != weight.dim(0)) {
      return false;
    }
    if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16) return false;
    const Tensor v = ckpt.load_float(name);
    return std::memcmp(v.data(), weight.data(), static_cast<size_t>(v.numel()) * sizeof(float)) == 0;
  };
  const std::string direct = module + ".weight";
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
  const SafetensorsFile file = SafetensorsFile::open(path);
  const auto& meta = file.metadata();
  auto need = [&](const std::string& key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end()) fail(path, "__metadata__." + key, "missing", "present in a " + std::string(kQuantFormatName) + " file");
    return it->second;
  };
  if (need("format") != kQuantFormatName) fail(path, "__metadata__.format", need("format"), kQuantFormatName);
  const std::string& version = need("format_version");
  if (version != std::to_string(kQuantFormatVersion) && version != std::to_string(kQuantFormatVersionPlain)) {
    fail(path, "__metadata__.format_version", version,
         std::to_string(kQuantFormatVersionPlain) + " or " + std::to_string(kQuantFormatVersion));
  }
  QuantizedModel out;
  const nlohmann::json quant = parse_json(need("quantization"), path, "__metadata__.quantization");
  out.state.settings = parse_quant_settings(quant.at("settings").dump(), path + " (__metadata__.quantization)");
  out.state.int_layer_norm = quant.value("int_layer_norm", out.state.settings.ptf);
  const nlohmann::json cal = parse_json(need("calibration"), path, "__metadata__.calibration");
  out.calibration.calib_dir = cal.value("calib_dir", "");
  out.calibration.class_list = cal.value("class_list", "");
  out.calibration.calib_list = cal.value("calib_list", "");
  out.calibration.order = cal.value("order", "");
  out.calibration.seed = cal.value("seed", uint64_t{0});
  out.calibration.images_requested = cal.value("images_requested", int64_t{0});
  out.calibration.images_used = cal.value("images_used", int64_t{0});
  out.calibration.batch_size = cal.value("batch_size", int64_t{0});
  out.calibration.numerics = cal.value("numerics", "");
  out.calibration.seconds = cal.value("seconds", 0.0);
  const nlohmann::json qz = parse_json(need("quantizers"), path, "__metadata__.quantizers");

  // Weights: I8 codes with the recorded shape and per-channel F32 scales; dequantized for the float graph.
  SafetensorsWriter ckpt;
  std::set<std::string> used;
  for (const auto& [name, e] : qz.at("weights").items()) {
    const std::string wname = e.value("tensor", name + ".weight"), sname = wname + "_scale";
    if (!file.contains(wname)) fail(path, wname, "missing", "int8 codes of a quantized weight");
    if (!file.contains(sname)) fail(path, sname, "missing", "per-channel scales of " + wname);
    const TensorInfo& wi = file.info(wname);
    const Shape shape = e.at("shape").get<Shape>();
    if (wi.dtype != DType::kI8) fail(path, wname + ".dtype", dtype_name(wi.dtype), "I8");
    if (wi.shape != shape) fail(path, wname + ".shape", shape_to_string(wi.shape), shape_to_string(shape) + " (metadata)");
    const BitType bt{e.at("bits").get<int>(), true};
    if (!valid_bits(bt.bits)) fail(path, name + ".bits", std::to_string(bt.bits), "2..8");
    const Tensor scales = file.load_float(sname);
    if (scales.numel() != shape[0]) fail(path, sname + ".shape", shape_to_string(scales.shape()), "[" + std::to_string(shape[0]) + "]");
    const auto codes = file.bytes(wname);
    Tensor deq(shape);
    const int64_t k = deq.numel() / shape[0];
    // Optional: the input's per-channel power-of-two factors folded into the columns (real = scale q / 2^e[c]).
    std::vector<int32_t> exponent;
    const std::string ename = wname + "_input_exponent";
    if (file.contains(ename)) {
      const TensorInfo& ei = file.info(ename);
      if (ei.dtype != DType::kI32 || shape_numel(ei.shape) != k) {
        fail(path, ename, std::string(dtype_name(ei.dtype)) + " " + shape_to_string(ei.shape), "I32 [" + std::to_string(k) + "]");
      }
      const auto b = file.bytes(ename);
      exponent.resize(static_cast<size_t>(k));
      std::memcpy(exponent.data(), b.data(), exponent.size() * sizeof(int32_t));
      for (int32_t x : exponent) {
        if (x < 0 || x > kPtfMaxK) fail(path, ename, std::to_string(x), "0.." + std::to_string(kPtfMaxK));
      }
      used.insert(ename);
    }
    for (int64_t i = 0; i < deq.numel(); ++i) {
      const auto q = static_cast<int8_t>(codes[static_cast<size_t>(i)]);
      if (q < bt.lo() || q > bt.hi()) fail(path, wname, "code " + std::to_string(q), "within " + bt.name());
      deq[i] = static_cast<float>(q) * scales[i / k];
      if (!exponent.empty()) deq[i] = std::ldexp(deq[i], -exponent[static_cast<size_t>(i % k)]);
    }
    ckpt.add(wname, deq);
    out.state.weights[name] = {bt, std::vector<float>(scales.data(), scales.data() + scales.numel()), exponent};
    used.insert(wname);
    used.insert(sname);
  }
  // Activation quantizers from their fields.
  for (const auto& [name, e] : qz.at("activations").items()) {
    QuantizerRecord r;
    r.kind = e.at("kind").get<std::string>();
    r.bit_type = {e.at("bits").get<int>(), e.value("signed", false)};
    for (const auto& f : e.at("fields")) {
      const std::string tname = kQuantPrefix + name + "." + f.get<std::string>();
      if (!file.contains(tname)) fail(path, tname, "missing", "a field of quantizer " + name);
      const TensorInfo& ti = file.info(tname);
      if (ti.dtype == DType::kF32) {
        const Tensor t = file.load_float(tname);
        r.floats[f.get<std::string>()].assign(t.data(), t.data() + t.numel());
      } else if (ti.dtype == DType::kI32) {
        const auto b = file.bytes(tname);
        std::vector<int32_t> v(b.size() / sizeof(int32_t));
        std::memcpy(v.data(), b.data(), v.size() * sizeof(int32_t));
        r.ints[f.get<std::string>()] = std::move(v);
      } else {
        fail(path, tname + ".dtype", dtype_name(ti.dtype), "F32 or I32");
      }
      used.insert(tname);
    }
    out.state.activations[name] = read_quantizer(r, path + " (quantizer " + name + ")");
  }
  // Everything else is a float tensor of the graph; quantizer tensors no metadata entry names are an error.
  for (const TensorInfo& t : file.tensors()) {
    if (used.count(t.name)) continue;
    if (t.name.rfind(kQuantPrefix, 0) == 0) fail(path, t.name, "a quantizer tensor", "listed in __metadata__.quantizers");
    if (t.dtype == DType::kF32) {
      ckpt.add(t.name, file.load_float(t.name));
    } else {
      ckpt.add_raw(t.name, t.dtype, t.shape, file.bytes(t.name));
    }
  }
  // The float graph loads from the stored config and the dequantized tensors, held in memory.
  out.model = load_model(parse_model_config(need("model_config"), path + " (__metadata__.model_config)"),
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
