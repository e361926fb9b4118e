// Writes a small random Swin checkpoint (official or timm-hub names) so tests can break one thing at a time.
// Default: 32x32 image, patch 4 -> an 8x8 grid; window 4: stage 0 has 4 windows and shifts its odd block by 2,
// stage 1 (4x4 grid) is one unshifted window.
#pragma once

#include <map>
#include <random>
#include <string>
#include <vector>

#include "fqvit/core/tensor.h"
#include "tiny_vit_checkpoint.h"  // write_checkpoint

namespace fqvit::testing {

struct TinySwinSpec {
  int img = 32, patch = 4, embed = 8, window = 4, classes = 5, mlp_ratio = 2;
  std::vector<int> depths = {2, 2};
  std::vector<int> heads = {2, 4};
  bool timm_layout = false;
};

inline std::map<std::string, Tensor> tiny_swin_tensors(const TinySwinSpec& s, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  auto random = [&](Shape shape) {
    Tensor t(std::move(shape));
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = normal(rng);
    return t;
  };
  std::map<std::string, Tensor> t;
  int64_t d = s.embed, res = s.img / s.patch;
  t["patch_embed.proj.weight"] = random({d, 3, s.patch, s.patch});
  t["patch_embed.proj.bias"] = random({d});
  t["patch_embed.norm.weight"] = random({d});
  t["patch_embed.norm.bias"] = random({d});
  const int stages = static_cast<int>(s.depths.size());
  for (int i = 0; i < stages; ++i) {
    const int64_t win = std::min<int64_t>(s.window, res);
    const int64_t heads = s.heads[static_cast<size_t>(i)];
    for (int j = 0; j < s.depths[static_cast<size_t>(i)]; ++j) {
      const std::string p = "layers." + std::to_string(i) + ".blocks." + std::to_string(j) + ".";
      const int64_t hidden = s.mlp_ratio * d;
      t[p + "norm1.weight"] = random({d});
      t[p + "norm1.bias"] = random({d});
      t[p + "attn.relative_position_bias_table"] = random({(2 * win - 1) * (2 * win - 1), heads});
      t[p + "attn.qkv.weight"] = random({3 * d, d});
      t[p + "attn.qkv.bias"] = random({3 * d});
      t[p + "attn.proj.weight"] = random({d, d});
      t[p + "attn.proj.bias"] = random({d});
      t[p + "norm2.weight"] = random({d});
      t[p + "norm2.bias"] = random({d});
      t[p + "mlp.fc1.weight"] = random({hidden, d});
      t[p + "mlp.fc1.bias"] = random({hidden});
      t[p + "mlp.fc2.weight"] = random({d, hidden});
      t[p + "mlp.fc2.bias"] = random({d});
    }
    if (i + 1 < stages) {
      // The merging that closes stage i: official layers.{i}.downsample, timm layers.{i+1}.downsample.
      const std::string p = "layers." + std::to_string(s.timm_layout ? i + 1 : i) + ".downsample.";
      t[p + "norm.weight"] = random({4 * d});
      t[p + "norm.bias"] = random({4 * d});
      t[p + "reduction.weight"] = random({2 * d, 4 * d});
      d *= 2;
      res /= 2;
    }
  }
  t["norm.weight"] = random({d});
  t["norm.bias"] = random({d});
  const std::string head = s.timm_layout ? "head.fc." : "head.";
  t[head + "weight"] = random({s.classes, d});
  t[head + "bias"] = random({s.classes});
  return t;
}

inline std::string int_list(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// config.json; `depths` / `heads` / `window` default to the spec's (tests override them to disagree).
inline std::string tiny_swin_config(const TinySwinSpec& s) {
  return "{\"architecture\": \"swin_test_micro\", \"num_classes\": " + std::to_string(s.classes) +
         ", \"model_args\": {\"img_size\": " + std::to_string(s.img) + ", \"patch_size\": " +
         std::to_string(s.patch) + ", \"embed_dim\": " + std::to_string(s.embed) + ", \"depths\": " +
         int_list(s.depths) + ", \"num_heads\": " + int_list(s.heads) + ", \"window_size\": " +
         std::to_string(s.window) + ", \"mlp_ratio\": " + std::to_string(s.mlp_ratio) + "}}";
}

}  // namespace fqvit::testing
