// ViT / DeiT / DeiT-distilled float graph (timm layout), with FQ-ViT's quantizer points.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fqvit/io/safetensors.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

struct VitBlockWeights {
  Tensor norm1_weight, norm1_bias;
  Tensor qkv_weight, qkv_bias;  // [3D, D], [3D]
  Tensor proj_weight, proj_bias;
  Tensor norm2_weight, norm2_bias;
  Tensor fc1_weight, fc1_bias;  // [hidden, D]
  Tensor fc2_weight, fc2_bias;  // [D, hidden]
};

struct VitWeights {
  Tensor cls_token;    // [1, 1, D]
  Tensor dist_token;   // [1, 1, D] when distilled, else empty
  Tensor pos_embed;    // [1, prefix + N, D]
  Tensor patch_weight; // [D, C, P, P]
  Tensor patch_bias;   // [D]
  std::vector<VitBlockWeights> blocks;
  Tensor norm_weight, norm_bias;
  Tensor head_weight, head_bias;            // [classes, D]
  Tensor head_dist_weight, head_dist_bias;  // distilled only
};

// The config with every dimension the tensors fix (embed_dim, in_chans, patch_size, depth, mlp_ratio, distilled)
// taken from `file`'s tensor headers (any dtype: float checkpoints and quantized files alike), checked against what
// `config` states. Throws Error naming the file, the tensor and the shape found and expected.
ModelConfig vit_config_from_tensors(const SafetensorsFile& file, ModelConfig config);

class VitModel final : public VisionModel {
 public:
  // Checks every tensor's presence and shape against `config` (dimensions the tensors fix, such as depth and
  // embed_dim, are taken from them and must agree with the config when it states them).
  static std::unique_ptr<VitModel> load(const SafetensorsFile& file, ModelConfig config);

  const ModelConfig& config() const override { return config_; }
  Tensor forward(const Tensor& images, QuantHooks* hooks = nullptr) const override;
  std::vector<WeightRef> weights() override;
  std::vector<std::string> activation_points() const override;
  std::unique_ptr<VisionModel> clone() const override { return std::make_unique<VitModel>(*this); }

  int prefix_tokens() const { return config_.distilled ? 2 : 1; }
  int num_patches() const;
  // The float tensors as loaded (the lowering reads tokens, position embedding and LayerNorm parameters here).
  const VitWeights& parameters() const { return w_; }

 private:
  struct BlockNames {
    std::string prefix, qact1, attn_qact1, attn_qact_attn1, attn_softmax, attn_qact2, attn_qact3, qact2, qact3,
        mlp_qact1, mlp_qact2, qact4;
  };
  void build_names();
  void run_block(int index, Tensor& x, int64_t batch, QuantHooks* hooks, const std::string& last_quantizer) const;

  ModelConfig config_;
  VitWeights w_;
  std::vector<BlockNames> names_;
};

}  // namespace fqvit
