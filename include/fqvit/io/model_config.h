// A checkpoint directory's config.json (timm / Hugging Face hub layout): architecture, num_classes, pretrained_cfg
// (preprocessing) and model_args (timm's record of non-default constructor arguments). What the tensors cannot
// tell (heads, eps, window) comes from model_args when present, else from the table of known architectures.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace fqvit {

enum class ModelFamily { kVit, kSwin };
const char* family_name(ModelFamily family);

enum class Interpolation { kBicubic, kBilinear };

// Largest image side (pixels) a config may ask for: 18x ImageNet's 224, far above any published ViT/Swin, and small
// enough that one [3, S, S] float image (192 MB) cannot exhaust memory by itself.
constexpr int kMaxImageSide = 4096;

struct PreprocessConfig {
  int input_size = 224;  // square crop, pixels
  double crop_pct = 0.875;
  Interpolation interpolation = Interpolation::kBicubic;
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};

  // timm's eval resize: the shorter side goes to floor(input_size / crop_pct).
  int resize_shorter() const;
};

struct ModelConfig {
  std::string architecture;  // without a ".tag" suffix
  ModelFamily family = ModelFamily::kVit;
  int num_classes = 1000;
  int img_size = 224;
  int patch_size = 16;
  int in_chans = 3;
  int embed_dim = 0;
  double mlp_ratio = 4.0;
  float norm_eps = 1e-6f;
  // ViT / DeiT
  int depth = 0;
  int num_heads = 0;
  bool distilled = false;    // DeiT distilled: dist_token and head_dist, heads averaged at eval
  // Swin
  int window_size = 7;
  std::vector<int> depths;
  std::vector<int> stage_heads;
  // FQ-ViT quantizes the normalized input image for DeiT and Swin, not for ViT (mean = std = 0.5).
  bool quantize_input = true;
  PreprocessConfig preprocess;
  std::string source;        // config.json text, kept for the quantized file's metadata
  std::string origin;        // where the config was read from, named in errors about its fields
};

// Reads `<dir>/config.json` (a regular file). Throws Error naming the file and field for anything missing or malformed.
ModelConfig load_model_config(const std::string& checkpoint_dir);
// Same from JSON text; `origin` names the file in errors.
ModelConfig parse_model_config(const std::string& json_text, const std::string& origin);

}  // namespace fqvit
