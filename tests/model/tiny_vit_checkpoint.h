// Writes a small random ViT checkpoint directory (timm names) so loader tests can break one thing at a time.
#pragma once

#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "fqvit/io/safetensors.h"

namespace fqvit::testing {

struct TinyVitSpec {
  int embed = 16, depth = 2, heads = 2, patch = 8, img = 32, classes = 5, hidden = 32;
  bool distilled = false;
};

inline std::map<std::string, Tensor> tiny_vit_tensors(const TinyVitSpec& s, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  auto random = [&](Shape shape) {
    Tensor t(std::move(shape));
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = normal(rng);
    return t;
  };
  const int64_t d = s.embed, prefix = s.distilled ? 2 : 1, n = (s.img / s.patch) * (s.img / s.patch);
  std::map<std::string, Tensor> t;
  t["cls_token"] = random({1, 1, d});
  if (s.distilled) t["dist_token"] = random({1, 1, d});
  t["pos_embed"] = random({1, prefix + n, d});
  t["patch_embed.proj.weight"] = random({d, 3, s.patch, s.patch});
  t["patch_embed.proj.bias"] = random({d});
  for (int i = 0; i < s.depth; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    t[p + "norm1.weight"] = random({d});
    t[p + "norm1.bias"] = random({d});
    t[p + "attn.qkv.weight"] = random({3 * d, d});
    t[p + "attn.qkv.bias"] = random({3 * d});
    t[p + "attn.proj.weight"] = random({d, d});
    t[p + "attn.proj.bias"] = random({d});
    t[p + "norm2.weight"] = random({d});
    t[p + "norm2.bias"] = random({d});
    t[p + "mlp.fc1.weight"] = random({s.hidden, d});
    t[p + "mlp.fc1.bias"] = random({s.hidden});
    t[p + "mlp.fc2.weight"] = random({d, s.hidden});
    t[p + "mlp.fc2.bias"] = random({d});
  }
  t["norm.weight"] = random({d});
  t["norm.bias"] = random({d});
  t["head.weight"] = random({s.classes, d});
  t["head.bias"] = random({s.classes});
  if (s.distilled) {
    t["head_dist.weight"] = random({s.classes, d});
    t["head_dist.bias"] = random({s.classes});
  }
  return t;
}

inline std::string tiny_vit_config(const TinyVitSpec& s, const std::string& architecture = "vit_test_tiny") {
  return "{\"architecture\": \"" + architecture + "\", \"num_classes\": " + std::to_string(s.classes) +
         ", \"model_args\": {\"img_size\": " + std::to_string(s.img) + ", \"patch_size\": " +
         std::to_string(s.patch) + ", \"embed_dim\": " + std::to_string(s.embed) + ", \"depth\": " +
         std::to_string(s.depth) + ", \"num_heads\": " + std::to_string(s.heads) +
         "}, \"pretrained_cfg\": {\"input_size\": [3, " + std::to_string(s.img) + ", " + std::to_string(s.img) +
         "], \"crop_pct\": 1.0, \"interpolation\": \"bilinear\", \"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5]}}";
}

// Writes dir/model.safetensors and dir/config.json; `edit` may change the tensors before writing.
inline void write_checkpoint(const std::string& dir, const std::map<std::string, Tensor>& tensors,
                             const std::string& config_json) {
  SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor);
  writer.set_metadata("format", "pt");
  writer.write(dir + "/model.safetensors");
  std::ofstream(dir + "/config.json") << config_json;
}

}  // namespace fqvit::testing
