#include "fqvit/research/sweep_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fqvit/core/error.h"
#include "fqvit/eval/engine.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Unknown keys are errors (a typo would silently sweep the default), naming the key and the allowed ones.
void check_keys(const json& object, const std::vector<std::string>& allowed, const std::string& origin,
                const std::string& where) {
  if (!object.is_object()) fail(origin, where.empty() ? "json" : where, object.type_name(), "a JSON object");
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      fail(origin, where.empty() ? key : where + "." + key, "an unknown key", "one of " + join(allowed));
    }
  }
}

// A scalar or a list of them, as a list.
std::vector<json> as_list(const json& value) {
  if (value.is_array()) return {value.begin(), value.end()};
  return {value};
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

template <typename T>
T get(const json& j, const std::string& origin, const std::string& field, const char* expected) {
  try {
    return j.get<T>();
  } catch (const json::exception&) {
    fail(origin, field, j.dump(), expected);
  }
}

void parse_bits(const json& value, const std::string& origin, const std::string& field, QuantSettings* s) {
  const std::string text = get<std::string>(value, origin, field, "a string \"weight/activation/attention\"");
  int w = 0, a = 0, t = 0;
  char slash1 = 0, slash2 = 0, extra = 0;
  std::istringstream in(text);
  in >> w >> slash1 >> a >> slash2 >> t;
  if (!in || slash1 != '/' || slash2 != '/' || (in >> extra)) {
    fail(origin, field, "'" + text + "'", "\"weight/activation/attention\" bits, e.g. \"8/8/4\"");
  }
  s->w_bits = w;
  s->a_bits = a;
  s->attn_bits = t;
}

std::vector<QuantSettings> expand_settings(const json& entry, const std::string& origin, const std::string& where) {
  check_keys(entry, {"method", "ptf", "lis", "bits", "layers", "lis_exp_shift", "extensions", "name"}, origin, where);
  static const std::vector<std::string> kMethods = {"minmax", "ema", "percentile", "omse"};
  const auto list_of = [&](const char* key, json fallback) {
    return entry.contains(key) ? as_list(entry[key]) : std::vector<json>{std::move(fallback)};
  };
  QuantSettings base;
  if (entry.contains("layers")) {
    if (!entry["layers"].is_object()) {
      fail(origin, where + ".layers", entry["layers"].type_name(), "an object of layer name -> {bits, observer}");
    }
    for (const auto& [layer, value] : entry["layers"].items()) {
      check_keys(value, {"bits", "observer"}, origin, where + ".layers." + layer);
    }
    // The quantization presets' own parser checks the overrides' keys and values.
    base = parse_quant_settings(json{{"layers", entry["layers"]}}.dump(), origin + ": " + where, base);
  }
  if (entry.contains("extensions")) {
    // The presets' parser checks every extension (calibrate/extensions.h).
    base = parse_quant_settings(json{{"extensions", entry["extensions"]}}.dump(), origin + ": " + where, base);
  }
  if (entry.contains("lis_exp_shift")) {
    base.lis_exp_shift = get<int>(entry["lis_exp_shift"], origin, where + ".lis_exp_shift", "an integer 8..30");
  }
  std::vector<QuantSettings> out;
  for (const json& m : list_of("method", "minmax")) {
    const std::string method = get<std::string>(m, origin, where + ".method", "a string");
    if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end()) {
      fail(origin, where + ".method", "'" + method + "'", "one of " + join(kMethods));
    }
    for (const json& p : list_of("ptf", true)) {
      for (const json& l : list_of("lis", true)) {
        for (const json& b : list_of("bits", "8/8/4")) {
          QuantSettings s = base;
          s.method = method;
          s.ptf = get<bool>(p, origin, where + ".ptf", "true or false");
          s.lis = get<bool>(l, origin, where + ".lis", "true or false");
          parse_bits(b, origin, where + ".bits", &s);
          s.validate(origin + ": " + where);
          out.push_back(s);
        }
      }
    }
  }
  return out;
}

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex_key(const json& j) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(fnv1a(j.dump())));
  return text;
}

}  // namespace

std::string method_label(const QuantSettings& s) {
  static const std::map<std::string, std::string> kNames = {
      {"minmax", "MinMax"}, {"ema", "EMA"}, {"percentile", "Percentile"}, {"omse", "OMSE"}};
  const auto it = kNames.find(s.method);
  std::string label = it != kNames.end() ? it->second : s.method;
  if (s.ptf) label += "+PTF";
  if (s.lis) label += "+LIS";
  if (!s.layers.empty()) label += " (per-layer)";
  return label;
}

std::string bits_label(const QuantSettings& s) {
  return std::to_string(s.w_bits) + "/" + std::to_string(s.a_bits) + "/" + std::to_string(s.attn_bits);
}

SweepConfig parse_sweep_config(const std::string& json_text, const std::string& origin, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    fail(origin, "json", e.what(), "a JSON object");
  }
  check_keys(
      j,
      {"description", "models", "calib", "data", "class_list", "labels", "calibration", "eval", "engines", "settings"},
      origin, "");
  SweepConfig c;
  c.path = origin;
  if (j.contains("description")) c.description = get<std::string>(j["description"], origin, "description", "a string");
  if (j.contains("models")) {
    for (const json& m : as_list(j["models"])) {
      c.paths.models.push_back(resolve(base_dir, get<std::string>(m, origin, "models", "a list of paths")));
    }
  }
  const auto path_field = [&](const char* key, std::string* out) {
    if (j.contains(key)) *out = resolve(base_dir, get<std::string>(j[key], origin, key, "a path string"));
  };
  path_field("calib", &c.paths.calib);
  path_field("data", &c.paths.data);
  path_field("class_list", &c.paths.class_list);
  path_field("labels", &c.paths.labels);
  if (j.contains("calibration")) {
    const json& k = j["calibration"];
    check_keys(k, {"images", "batch_size", "seed", "numerics", "calib_list"}, origin, "calibration");
    if (k.contains("calib_list")) {
      c.calibration.calib_list =
          resolve(base_dir, get<std::string>(k["calib_list"], origin, "calibration.calib_list", "a path string"));
    }
    if (k.contains("images"))
      c.calibration.images = get<int64_t>(k["images"], origin, "calibration.images", "an integer >= 1");
    if (k.contains("batch_size"))
      c.calibration.batch = get<int64_t>(k["batch_size"], origin, "calibration.batch_size", "an integer >= 1");
    if (k.contains("seed"))
      c.calibration.seed = get<uint64_t>(k["seed"], origin, "calibration.seed", "an integer >= 0");
    if (k.contains("numerics")) {
      c.calibration.numerics = get<std::string>(k["numerics"], origin, "calibration.numerics", "torch or fast");
    }
    if (c.calibration.images < 1) fail(origin, "calibration.images", std::to_string(c.calibration.images), ">= 1");
    if (c.calibration.batch < 1) {
      fail(origin, "calibration.batch_size", std::to_string(c.calibration.batch), ">= 1");
    }
    parse_numerics(c.calibration.numerics, origin, "calibration.numerics");
  }
  if (j.contains("eval")) {
    const json& e = j["eval"];
    check_keys(e, {"batch_size", "limit", "numerics"}, origin, "eval");
    if (e.contains("batch_size")) c.eval.batch_size = get<int>(e["batch_size"], origin, "eval.batch_size", "1..4096");
    if (e.contains("limit")) c.eval.limit = get<int64_t>(e["limit"], origin, "eval.limit", "an integer >= 0");
    if (e.contains("numerics"))
      c.eval.numerics = get<std::string>(e["numerics"], origin, "eval.numerics", "torch or fast");
    if (c.eval.batch_size < 1 || c.eval.batch_size > 4096) {
      fail(origin, "eval.batch_size", std::to_string(c.eval.batch_size), "1..4096");
    }
    if (c.eval.limit < 0) fail(origin, "eval.limit", std::to_string(c.eval.limit), ">= 0");
    if (!c.eval.numerics.empty()) parse_numerics(c.eval.numerics, origin, "eval.numerics");
  }
  // Engines come from the engine registry, so a new engine (int) is sweepable the day it is registered.
  const std::vector<std::string> known = engine_names();
  for (const json& e : j.contains("engines") ? as_list(j["engines"]) : std::vector<json>{"fake"}) {
    const std::string name = get<std::string>(e, origin, "engines", "a list of engine names");
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      fail(origin, "engines", "'" + name + "'", "one of " + join(known));
    }
    if (std::find(c.engines.begin(), c.engines.end(), name) == c.engines.end()) c.engines.push_back(name);
  }
  if (c.engines.empty()) fail(origin, "engines", "an empty list", "at least one of " + join(known));
  if (j.contains("settings")) {
    if (!j["settings"].is_array()) fail(origin, "settings", j["settings"].type_name(), "a list of setting objects");
    for (size_t i = 0; i < j["settings"].size(); ++i) {
      const std::string where = "settings[" + std::to_string(i) + "]";
      const json& entry = j["settings"][i];
      std::string name;
      if (entry.is_object() && entry.contains("name")) {
        name = get<std::string>(entry["name"], origin, where + ".name", "a string");
      }
      std::vector<QuantSettings> expanded = expand_settings(entry, origin, where);
      if (!name.empty() && expanded.size() > 1) {
        fail(origin, where + ".name", "'" + name + "' on " + std::to_string(expanded.size()) + " settings",
             "a name only on an entry without lists (one setting)");
      }
      for (QuantSettings& s : expanded) {
        c.settings.push_back(std::move(s));
        c.setting_names.push_back(name);
      }
    }
  }
  const bool quantized = std::any_of(c.engines.begin(), c.engines.end(), [](const auto& e) { return e != "fp32"; });
  if (quantized && c.settings.empty()) {
    fail(origin, "settings", "none", "at least one setting for engines other than fp32");
  }
  return c;
}

SweepConfig load_sweep_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open the sweep config");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_sweep_config(ss.str(), path, fs::path(path).parent_path().string());
}

std::vector<SweepRun> expand_runs(const SweepConfig& c) {
  if (c.paths.models.empty()) fail(c.path, "models", "none", "a model in the config or --model on the command line");
  if (c.paths.data.empty()) fail(c.path, "data", "none", "a val folder in the config or --data on the command line");
  const bool quantized = std::any_of(c.engines.begin(), c.engines.end(), [](const auto& e) { return e != "fp32"; });
  if (quantized && c.paths.calib.empty()) {
    fail(c.path, "calib", "none", "a calibration folder in the config or --calib on the command line");
  }
  const json eval = {{"data", c.paths.data},     {"class_list", c.paths.class_list},
                     {"labels", c.paths.labels}, {"batch_size", c.eval.batch_size},
                     {"limit", c.eval.limit},    {"numerics", c.eval.numerics}};
  const json calibration = {{"calib", c.paths.calib},
                            {"class_list", c.paths.class_list},
                            {"images", c.calibration.images},
                            {"batch_size", c.calibration.batch},
                            {"seed", c.calibration.seed},
                            {"numerics", c.calibration.numerics},
                            {"calib_list", c.calibration.calib_list}};
  std::vector<SweepRun> runs;
  for (const std::string& model : c.paths.models) {
    if (std::find(c.engines.begin(), c.engines.end(), "fp32") != c.engines.end()) {
      SweepRun r;
      r.model = model;
      r.engine = "fp32";
      r.label = "FP32";
      r.key = hex_key({{"model", model}, {"engine", "fp32"}, {"eval", eval}});
      runs.push_back(r);
    }
    for (size_t si = 0; si < c.settings.size(); ++si) {
      const QuantSettings& s = c.settings[si];
      const std::string& name = si < c.setting_names.size() ? c.setting_names[si] : std::string();
      const json setting = json::parse(s.to_json());
      const std::string calibration_key =
          hex_key({{"model", model}, {"settings", setting}, {"calibration", calibration}});
      for (const std::string& engine : c.engines) {
        if (engine == "fp32") continue;
        SweepRun r;
        r.model = model;
        r.engine = engine;
        r.settings = s;
        r.calibration_key = calibration_key;
        r.label = name.empty() ? method_label(s) + " " + bits_label(s) : name;
        r.name = name;
        r.key = hex_key({{"model", model},
                         {"engine", engine},
                         {"settings", setting},
                         {"calibration", calibration},
                         {"eval", eval}});
        // The same setting listed twice in a config is one run.
        if (std::none_of(runs.begin(), runs.end(), [&](const SweepRun& o) { return o.key == r.key; })) {
          runs.push_back(r);
        }
      }
    }
  }
  return runs;
}

}  // namespace fqvit
