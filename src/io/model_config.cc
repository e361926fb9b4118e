#include "fqvit/io/model_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

using Json = nlohmann::json;

constexpr double kMinCropPct = 0.25;  // timm's models use 0.875..1.0

struct KnownArchitecture {
  const char* name;
  ModelFamily family;
  int patch_size;
  int embed_dim;
  int depth;      // ViT: blocks
  int num_heads;  // ViT: heads
  std::vector<int> depths;       // Swin
  std::vector<int> stage_heads;  // Swin
  bool distilled;
};

const std::vector<KnownArchitecture>& known_architectures() {
  static const std::vector<KnownArchitecture> table = {
      {"vit_tiny_patch16_224", ModelFamily::kVit, 16, 192, 12, 3, {}, {}, false},
      {"vit_small_patch16_224", ModelFamily::kVit, 16, 384, 12, 6, {}, {}, false},
      {"vit_base_patch16_224", ModelFamily::kVit, 16, 768, 12, 12, {}, {}, false},
      {"vit_large_patch16_224", ModelFamily::kVit, 16, 1024, 24, 16, {}, {}, false},
      {"deit_tiny_patch16_224", ModelFamily::kVit, 16, 192, 12, 3, {}, {}, false},
      {"deit_small_patch16_224", ModelFamily::kVit, 16, 384, 12, 6, {}, {}, false},
      {"deit_base_patch16_224", ModelFamily::kVit, 16, 768, 12, 12, {}, {}, false},
      {"deit_tiny_distilled_patch16_224", ModelFamily::kVit, 16, 192, 12, 3, {}, {}, true},
      {"deit_small_distilled_patch16_224", ModelFamily::kVit, 16, 384, 12, 6, {}, {}, true},
      {"deit_base_distilled_patch16_224", ModelFamily::kVit, 16, 768, 12, 12, {}, {}, true},
      {"swin_tiny_patch4_window7_224", ModelFamily::kSwin, 4, 96, 0, 0, {2, 2, 6, 2}, {3, 6, 12, 24}, false},
      {"swin_small_patch4_window7_224", ModelFamily::kSwin, 4, 96, 0, 0, {2, 2, 18, 2}, {3, 6, 12, 24}, false},
      {"swin_base_patch4_window7_224", ModelFamily::kSwin, 4, 128, 0, 0, {2, 2, 18, 2}, {4, 8, 16, 32}, false},
  };
  return table;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

int get_int(const Json& obj, const char* key, const std::string& origin, const std::string& path) {
  const Json& v = obj.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (1 << 24)) {
    fail(origin, path + key, v.dump(), "a positive integer");
  }
  return v.get<int>();
}

std::vector<int> get_int_list(const Json& v, const std::string& origin, const std::string& field) {
  if (!v.is_array() || v.empty()) fail(origin, field, v.dump(), "a non-empty list of positive integers");
  std::vector<int> out;
  for (const Json& e : v) {
    if (!e.is_number_integer() || e.get<int64_t>() <= 0 || e.get<int64_t>() > (1 << 24)) {
      fail(origin, field, v.dump(), "positive integers");
    }
    out.push_back(e.get<int>());
  }
  return out;
}

std::array<float, 3> get_triple(const Json& v, const std::string& origin, const std::string& field) {
  if (!v.is_array() || v.size() != 3) fail(origin, field, v.dump(), "a list of 3 numbers");
  std::array<float, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    if (!v[i].is_number()) fail(origin, field, v.dump(), "a list of 3 numbers");
    out[i] = v[i].get<float>();
  }
  return out;
}

void apply_pretrained_cfg(const Json& cfg, const std::string& origin, PreprocessConfig* pre) {
  if (!cfg.is_object()) fail(origin, "pretrained_cfg", cfg.dump(), "an object");
  if (cfg.contains("input_size")) {
    const Json& size = cfg["input_size"];
    const auto side_ok = [](const Json& v) {
      return v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= kMaxImageSide;
    };
    if (!size.is_array() || size.size() != 3 || size[0] != 3 || !side_ok(size[1]) || size[1] != size[2]) {
      fail(origin, "pretrained_cfg.input_size", size.dump(),
           "[3, S, S] with 0 < S <= " + std::to_string(kMaxImageSide));
    }
    pre->input_size = size[1].get<int>();
  }
  if (cfg.contains("crop_pct")) {
    // Bounded below so the resize target floor(S / crop_pct) stays within a few times the crop.
    const Json& c = cfg["crop_pct"];
    if (!c.is_number() || c.get<double>() < kMinCropPct || c.get<double>() > 1.0) {
      fail(origin, "pretrained_cfg.crop_pct", c.dump(), "a number in [0.25, 1]");
    }
    pre->crop_pct = c.get<double>();
  }
  if (cfg.contains("crop_mode") && cfg["crop_mode"] != "center") {
    fail(origin, "pretrained_cfg.crop_mode", cfg["crop_mode"].dump(), "\"center\"");
  }
  if (cfg.contains("interpolation")) {
    const Json& i = cfg["interpolation"];
    if (i == "bicubic") {
      pre->interpolation = Interpolation::kBicubic;
    } else if (i == "bilinear") {
      pre->interpolation = Interpolation::kBilinear;
    } else {
      fail(origin, "pretrained_cfg.interpolation", i.dump(), "\"bicubic\" or \"bilinear\"");
    }
  }
  if (cfg.contains("mean")) pre->mean = get_triple(cfg["mean"], origin, "pretrained_cfg.mean");
  if (cfg.contains("std")) {
    pre->std = get_triple(cfg["std"], origin, "pretrained_cfg.std");
    for (float s : pre->std) {
      if (!(s > 0.0f)) fail(origin, "pretrained_cfg.std", cfg["std"].dump(), "positive numbers");
    }
  }
}

}  // namespace

const char* family_name(ModelFamily family) { return family == ModelFamily::kVit ? "vit" : "swin"; }

int PreprocessConfig::resize_shorter() const {
  // timm: scale_size = math.floor(img_size / crop_pct). Computed in double as Python does.
  return static_cast<int>(std::floor(static_cast<double>(input_size) / crop_pct));
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& origin) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    fail(origin, "JSON", std::string("malformed (") + e.what() + ")", "a JSON object");
  }
  if (!root.is_object()) fail(origin, "top level", root.type_name(), "a JSON object");

  ModelConfig config;
  config.source = json_text;
  config.origin = origin;
  if (!root.contains("architecture") || !root["architecture"].is_string()) {
    fail(origin, "architecture", root.contains("architecture") ? root["architecture"].dump() : "nothing",
         "a timm architecture name such as \"vit_tiny_patch16_224\"");
  }
  std::string arch = root["architecture"].get<std::string>();
  if (auto dot = arch.find('.'); dot != std::string::npos) arch.resize(dot);  // drop a pretrained tag
  config.architecture = arch;

  const Json model_args = root.value("model_args", Json::object());
  if (!model_args.is_object()) fail(origin, "model_args", model_args.dump(), "an object");

  std::optional<KnownArchitecture> known;
  for (const auto& k : known_architectures()) {
    if (arch == k.name) known = k;
  }
  if (known) {
    config.family = known->family;
    config.patch_size = known->patch_size;
    config.embed_dim = known->embed_dim;
    config.depth = known->depth;
    config.num_heads = known->num_heads;
    config.depths = known->depths;
    config.stage_heads = known->stage_heads;
    config.distilled = known->distilled;
  } else if (starts_with(arch, "vit_") || starts_with(arch, "deit_")) {
    config.family = ModelFamily::kVit;
    config.distilled = arch.find("distilled") != std::string::npos;
  } else if (starts_with(arch, "swin_")) {
    config.family = ModelFamily::kSwin;
  } else {
    std::string names;
    for (const auto& k : known_architectures()) names += std::string(names.empty() ? "" : ", ") + k.name;
    fail(origin, "architecture", "\"" + arch + "\"", "a vit_*, deit_* or swin_* model (known: " + names + ")");
  }

  if (config.family == ModelFamily::kSwin) {
    config.norm_eps = 1e-5f;
    config.patch_size = known ? config.patch_size : 4;
    config.preprocess.crop_pct = 0.9;
  } else if (starts_with(arch, "vit_")) {
    // Google AugReg ViTs (timm's default vit_* weights) use mean = std = 0.5 and crop 0.9.
    config.preprocess.mean = {0.5f, 0.5f, 0.5f};
    config.preprocess.std = {0.5f, 0.5f, 0.5f};
    config.preprocess.crop_pct = 0.9;
  }
  config.quantize_input = !starts_with(arch, "vit_");

  // model_args override the table (timm writes only non-default constructor arguments there).
  const std::string ma = "model_args.";
  if (model_args.contains("img_size")) {
    config.img_size = get_int(model_args, "img_size", origin, ma);
    if (config.img_size > kMaxImageSide) {
      fail(origin, ma + "img_size", std::to_string(config.img_size), "at most " + std::to_string(kMaxImageSide));
    }
  }
  if (model_args.contains("patch_size")) config.patch_size = get_int(model_args, "patch_size", origin, ma);
  if (model_args.contains("in_chans")) config.in_chans = get_int(model_args, "in_chans", origin, ma);
  if (model_args.contains("embed_dim")) config.embed_dim = get_int(model_args, "embed_dim", origin, ma);
  if (model_args.contains("window_size")) config.window_size = get_int(model_args, "window_size", origin, ma);
  if (model_args.contains("mlp_ratio")) {
    const Json& r = model_args["mlp_ratio"];
    if (!r.is_number() || r.get<double>() <= 0) fail(origin, ma + "mlp_ratio", r.dump(), "a positive number");
    config.mlp_ratio = r.get<double>();
  }
  if (config.family == ModelFamily::kVit) {
    if (model_args.contains("depth")) config.depth = get_int(model_args, "depth", origin, ma);
    if (model_args.contains("num_heads")) config.num_heads = get_int(model_args, "num_heads", origin, ma);
    if (config.num_heads <= 0) {
      fail(origin, "model_args.num_heads", "nothing", "num_heads for the unknown architecture \"" + arch + "\"");
    }
  } else {
    if (model_args.contains("depths")) config.depths = get_int_list(model_args["depths"], origin, ma + "depths");
    if (model_args.contains("num_heads")) {
      config.stage_heads = get_int_list(model_args["num_heads"], origin, ma + "num_heads");
    }
    if (config.stage_heads.empty()) {
      fail(origin, "model_args.num_heads", "nothing", "a list of heads per stage for \"" + arch + "\"");
    }
    if (!config.depths.empty() && config.depths.size() != config.stage_heads.size()) {
      fail(origin, "model_args.num_heads", std::to_string(config.stage_heads.size()) + " stages",
           std::to_string(config.depths.size()) + " stages (as in depths)");
    }
  }
  if (model_args.contains("norm_eps")) {
    const Json& e = model_args["norm_eps"];
    if (!e.is_number() || !(e.get<double>() > 0.0) || e.get<double>() > 1.0) {
      fail(origin, ma + "norm_eps", e.dump(), "a number in (0, 1]");
    }
    config.norm_eps = e.get<float>();
  }

  if (root.contains("num_classes")) config.num_classes = get_int(root, "num_classes", origin, "");
  config.preprocess.input_size = config.img_size;
  if (root.contains("pretrained_cfg")) apply_pretrained_cfg(root["pretrained_cfg"], origin, &config.preprocess);
  return config;
}

ModelConfig load_model_config(const std::string& checkpoint_dir) {
  const std::string path = checkpoint_dir + "/config.json";
  // A FIFO would block the open and a directory would read as empty text: refuse both by type first.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    fail(path, "file type", std::filesystem::is_directory(status) ? "a directory" : "not a regular file",
         "a regular file (the checkpoint's JSON config)");
  }
  std::ifstream in(path);
  if (!in) fail(path, "cannot open (a checkpoint directory holds model.safetensors and config.json)");
  std::stringstream text;
  text << in.rdbuf();
  return parse_model_config(text.str(), path);
}

}  // namespace fqvit
