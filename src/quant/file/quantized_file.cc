#include "fqvit/quant/quantized_file.h"

#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "fqvit/core/error.h"
#include "fqvit/quant/ptf_params.h"

namespace fqvit {
namespace {

using Json = nlohmann::json;

const std::string kQuantPrefix = kQuantizerTensorPrefix;

// Checked access to a JSON object read from `path`: every missing key or value of another type is one Error naming
// the file, the field's full path, what was found and what was expected.
class JsonObject {
 public:
  JsonObject(const Json& j, std::string path, std::string field) : j_(j), path_(std::move(path)), field_(std::move(field)) {
    if (!j_.is_object()) fail(path_, field_, j_.type_name(), "a JSON object");
  }

  const Json& need(const std::string& key, Json::value_t type, const char* expected) const {
    const auto it = j_.find(key);
    if (it == j_.end()) fail(path_, field(key), "missing", expected);
    if (!same_kind(*it, type)) fail(path_, field(key), it->type_name(), expected);
    return *it;
  }
  JsonObject object(const std::string& key) const {
    return {need(key, Json::value_t::object, "a JSON object"), path_, field(key)};
  }
  std::string string(const std::string& key) const { return need(key, Json::value_t::string, "a string").get<std::string>(); }
  bool boolean(const std::string& key) const { return need(key, Json::value_t::boolean, "true or false").get<bool>(); }
  int64_t integer(const std::string& key) const {
    return need(key, Json::value_t::number_integer, "an integer").get<int64_t>();
  }
  const Json& array(const std::string& key) const { return need(key, Json::value_t::array, "a JSON array"); }
  bool has(const std::string& key) const { return j_.contains(key); }

  // Optional keys: the default when absent, an Error when present with another type.
  std::string string_or(const std::string& key, const std::string& fallback) const {
    return has(key) ? string(key) : fallback;
  }
  int64_t integer_or(const std::string& key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double number_or(const std::string& key, double fallback) const {
    return has(key) ? need(key, Json::value_t::number_float, "a number").get<double>() : fallback;
  }
  bool boolean_or(const std::string& key, bool fallback) const { return has(key) ? boolean(key) : fallback; }

  std::vector<int64_t> integers(const std::string& key) const {
    std::vector<int64_t> out;
    for (const Json& v : array(key)) {
      if (!v.is_number_integer()) fail(path_, field(key) + "[]", v.type_name(), "an integer");
      out.push_back(v.get<int64_t>());
    }
    return out;
  }
  std::vector<std::string> strings(const std::string& key) const {
    std::vector<std::string> out;
    for (const Json& v : array(key)) {
      if (!v.is_string()) fail(path_, field(key) + "[]", v.type_name(), "a string");
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  const Json& json() const { return j_; }
  std::string field(const std::string& key) const { return field_ + "." + key; }

 private:
  // Integers are numbers too; unsigned and signed integers are one kind.
  static bool same_kind(const Json& v, Json::value_t type) {
    switch (type) {
      case Json::value_t::number_integer:
        return v.is_number_integer();
      case Json::value_t::number_float:
        return v.is_number();
      default:
        return v.type() == type;
    }
  }

  const Json& j_;
  std::string path_, field_;
};

Json parse_json(const std::string& text, const std::string& path, const std::string& field) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    fail(path, field, e.what(), "JSON text");
  }
}

const std::string& need_metadata(const SafetensorsFile& file, const std::string& key) {
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end()) {
    fail(file.path(), "__metadata__." + key, "missing", "present in a " + std::string(kQuantFormatName) + " file");
  }
  return it->second;
}

BitType checked_bits(int64_t bits, bool is_signed, const std::string& path, const std::string& field) {
  if (!valid_bits(static_cast<int>(bits))) fail(path, field, std::to_string(bits), "2..8");
  return {static_cast<int>(bits), is_signed};
}

// Activation codes may be up to 16 bits wide (the wide residual stream of version 2).
BitType checked_activation_bits(int64_t bits, bool is_signed, const std::string& path, const std::string& field) {
  if (!valid_activation_bits(static_cast<int>(bits))) {
    fail(path, field, std::to_string(bits), "2.." + std::to_string(kMaxActivationBits));
  }
  return {static_cast<int>(bits), is_signed};
}

QuantizedWeight read_weight(const SafetensorsFile& file, const std::string& name, const JsonObject& e) {
  const std::string& path = file.path();
  QuantizedWeight w;
  w.tensor = e.string_or("tensor", name + ".weight");
  const std::string sname = w.tensor + "_scale";
  if (!file.contains(w.tensor)) fail(path, w.tensor, "missing", "int8 codes of a quantized weight");
  if (!file.contains(sname)) fail(path, sname, "missing", "per-channel scales of " + w.tensor);
  w.shape = e.integers("shape");
  if (w.shape.empty() || w.shape[0] <= 0) fail(path, e.field("shape"), shape_to_string(w.shape), "[out, ...]");
  w.bit_type = checked_bits(e.integer("bits"), true, path, e.field("bits"));
  const TensorInfo& wi = file.info(w.tensor);
  if (wi.dtype != DType::kI8) fail(path, w.tensor + ".dtype", dtype_name(wi.dtype), "I8");
  if (wi.shape != w.shape) {
    fail(path, w.tensor + ".shape", shape_to_string(wi.shape), shape_to_string(w.shape) + " (metadata)");
  }
  const Tensor scales = file.load_float(sname);
  if (scales.numel() != w.shape[0]) {
    fail(path, sname + ".shape", shape_to_string(scales.shape()), "[" + std::to_string(w.shape[0]) + "]");
  }
  w.scales.assign(scales.data(), scales.data() + scales.numel());
  const auto bytes = file.bytes(w.tensor);
  w.codes.resize(bytes.size());
  std::memcpy(w.codes.data(), bytes.data(), bytes.size());
  for (const int8_t q : w.codes) {
    if (q < w.bit_type.lo() || q > w.bit_type.hi()) {
      fail(path, w.tensor, "code " + std::to_string(q), "within " + w.bit_type.name());
    }
  }
  const std::string ename = w.tensor + "_input_exponent";
  if (file.contains(ename)) {
    const TensorInfo& ei = file.info(ename);
    const int64_t in = shape_numel(w.shape) / w.shape[0];
    if (ei.dtype != DType::kI32 || shape_numel(ei.shape) != in) {
      fail(path, ename, std::string(dtype_name(ei.dtype)) + " " + shape_to_string(ei.shape),
           "I32 [" + std::to_string(in) + "] (one per input column)");
    }
    const auto b = file.bytes(ename);
    w.input_exponent.resize(static_cast<size_t>(in));
    std::memcpy(w.input_exponent.data(), b.data(), w.input_exponent.size() * sizeof(int32_t));
    for (const int32_t x : w.input_exponent) {
      if (x < 0 || x > kPtfMaxK) fail(path, ename, std::to_string(x), "0.." + std::to_string(kPtfMaxK));
    }
  }
  return w;
}

QuantizerRecord read_record(const SafetensorsFile& file, const std::string& name, const JsonObject& e,
                            std::set<std::string>& used) {
  const std::string& path = file.path();
  QuantizerRecord r;
  r.kind = e.string("kind");
  r.bit_type = checked_activation_bits(e.integer("bits"), e.boolean_or("signed", false), path, e.field("bits"));
  for (const std::string& f : e.strings("fields")) {
    const std::string tname = kQuantPrefix + name + "." + f;
    if (!file.contains(tname)) fail(path, tname, "missing", "a field of quantizer " + name);
    const TensorInfo& ti = file.info(tname);
    if (ti.dtype == DType::kF32) {
      const Tensor t = file.load_float(tname);
      r.floats[f].assign(t.data(), t.data() + t.numel());
    } else if (ti.dtype == DType::kI32) {
      const auto b = file.bytes(tname);
      std::vector<int32_t> v(b.size() / sizeof(int32_t));
      std::memcpy(v.data(), b.data(), v.size() * sizeof(int32_t));
      r.ints[f] = std::move(v);
    } else {
      fail(path, tname + ".dtype", dtype_name(ti.dtype), "F32 or I32");
    }
    used.insert(tname);
  }
  return r;
}

QuantizedFile read_unguarded(const std::string& path) {
  QuantizedFile out{SafetensorsFile::open(path), {}, {}, {}, {}, {}, {}, {}};
  const SafetensorsFile& file = out.file;
  if (need_metadata(file, "format") != kQuantFormatName) {
    fail(path, "__metadata__.format", need_metadata(file, "format"), kQuantFormatName);
  }
  const std::string& version = need_metadata(file, "format_version");
  if (version != std::to_string(kQuantFormatVersion) && version != std::to_string(kQuantFormatVersionPlain)) {
    fail(path, "__metadata__.format_version", version,
         std::to_string(kQuantFormatVersionPlain) + " or " + std::to_string(kQuantFormatVersion));
  }
  out.model_config = need_metadata(file, "model_config");

  const Json quant_json = parse_json(need_metadata(file, "quantization"), path, "__metadata__.quantization");
  const JsonObject quant(quant_json, path, "__metadata__.quantization");
  out.settings_json = quant.object("settings").json().dump();
  if (quant.has("int_layer_norm")) out.int_layer_norm = quant.boolean("int_layer_norm");

  const Json cal_json = parse_json(need_metadata(file, "calibration"), path, "__metadata__.calibration");
  const JsonObject cal(cal_json, path, "__metadata__.calibration");
  CalibrationInfo& c = out.calibration;
  c.calib_dir = cal.string_or("calib_dir", "");
  c.class_list = cal.string_or("class_list", "");
  c.calib_list = cal.string_or("calib_list", "");
  c.order = cal.string_or("order", "");
  if (cal.has("seed")) {
    const Json& seed = cal.need("seed", Json::value_t::number_integer, "an integer >= 0");
    if (!seed.is_number_unsigned()) fail(path, cal.field("seed"), seed.dump(), "an integer >= 0");
    c.seed = seed.get<uint64_t>();
  }
  c.images_requested = cal.integer_or("images_requested", 0);
  c.images_used = cal.integer_or("images_used", 0);
  c.batch_size = cal.integer_or("batch_size", 0);
  c.numerics = cal.string_or("numerics", "");
  c.seconds = cal.number_or("seconds", 0.0);

  const Json qz_json = parse_json(need_metadata(file, "quantizers"), path, "__metadata__.quantizers");
  const JsonObject qz(qz_json, path, "__metadata__.quantizers");
  std::set<std::string> used;
  const JsonObject weights = qz.object("weights");
  for (const auto& [name, entry] : weights.json().items()) {
    QuantizedWeight w = read_weight(file, name, JsonObject(entry, path, weights.field(name)));
    used.insert(w.tensor);
    used.insert(w.tensor + "_scale");
    if (!w.input_exponent.empty()) used.insert(w.tensor + "_input_exponent");
    out.weights.emplace(name, std::move(w));
  }
  const JsonObject activations = qz.object("activations");
  for (const auto& [name, entry] : activations.json().items()) {
    out.activations.emplace(name, read_record(file, name, JsonObject(entry, path, activations.field(name)), used));
  }
  // Everything else is a float tensor of the graph; quantizer tensors that no metadata entry names are an error.
  for (const TensorInfo& t : file.tensors()) {
    if (used.count(t.name)) continue;
    if (t.name.rfind(kQuantPrefix, 0) == 0) fail(path, t.name, "a quantizer tensor", "listed in __metadata__.quantizers");
    out.float_tensors.push_back(t.name);
  }
  return out;
}

}  // namespace

std::string CalibrationInfo::to_json() const {
  return Json{{"calib_dir", calib_dir},
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

QuantizedFile read_quantized_file(const std::string& path) {
  try {
    return read_unguarded(path);
  } catch (const Json::exception& e) {  // a JSON value of an unexpected kind slipped past the checks above
    fail(path, "__metadata__", e.what(), "the fields of docs/format.md");
  }
}

}  // namespace fqvit
