// Swin Transformer float graph (official / FQ-ViT layout internally; timm hub files are renamed at load), with
// FQ-ViT's quantizer points (models/swin_quant.py). The placement table is at the top of src/model/swin_model.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fqvit/io/safetensors.h"
#include "fqvit/model/swin_names.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

struct SwinBlockWeights {
  Tensor norm1_weight, norm1_bias;
  Tensor rel_pos_bias_table;    // [(2 win - 1)^2, heads]
  Tensor qkv_weight, qkv_bias;  // [3C, C], [3C]
  Tensor proj_weight, proj_bias;
  Tensor norm2_weight, norm2_bias;
  Tensor fc1_weight, fc1_bias;  // [hidden, C]
  Tensor fc2_weight, fc2_bias;  // [C, hidden]
};

struct SwinStageWeights {
  std::vector<SwinBlockWeights> blocks;
  // PatchMerging closing the stage (official layout); empty for the last stage.
  Tensor merge_norm_weight, merge_norm_bias;  // [4C]
  Tensor merge_reduction;                     // [C_next, 4C], no bias
};

struct SwinWeights {
  Tensor patch_weight, patch_bias;            // [C0, in_chans, P, P], [C0]
  Tensor patch_norm_weight, patch_norm_bias;  // [C0]
  std::vector<SwinStageWeights> stages;
  Tensor norm_weight, norm_bias;              // [C_last]
  Tensor head_weight, head_bias;              // [classes, C_last]
};

// What the tensors and the config fix about one stage.
struct SwinStageGeometry {
  int64_t dim = 0;         // C
  int64_t heads = 0;
  int64_t hidden = 0;      // MLP width
  int64_t resolution = 0;  // H = W of the token grid
  int64_t window = 0;      // effective window: min(config window, resolution)
  int64_t shift = 0;       // of odd blocks: window / 2, or 0 when the window covers the grid
  std::vector<int32_t> rel_index;  // [win^2, win^2], rows of the bias table
  std::vector<float> mask;         // [nW, win^2, win^2] for shifted blocks, empty when shift == 0
};

class SwinModel final : public VisionModel {
 public:
  // Detects the layout, checks every tensor's presence and shape against `config` (stages, depths and heads from
  // the tensors must agree with config.depths / config.stage_heads; the window must divide every stage's grid) and
  // throws Error naming the file, the field, the value found and the value expected.
  static std::unique_ptr<SwinModel> load(const SafetensorsFile& file, ModelConfig config);

  const ModelConfig& config() const override { return config_; }
  Tensor forward(const Tensor& images, QuantHooks* hooks = nullptr) const override;
  std::vector<WeightRef> weights() override;
  std::vector<std::string> activation_points() const override;
  std::unique_ptr<VisionModel> clone() const override { return std::make_unique<SwinModel>(*this); }

  SwinLayout source_layout() const { return layout_; }
  const std::vector<SwinStageGeometry>& stages() const { return geometry_; }

 private:
  // FQ-ViT module names of one block's / one merging's quantizers.
  struct BlockNames {
    std::string prefix, qact1, attn_qact1, attn_qact_attn1, attn_qact_table, attn_qact2, attn_softmax, attn_qact3,
        attn_qact4, qact2, qact3, mlp_qact1, mlp_qact2, qact4;
  };
  struct MergeNames {
    std::string prefix, qact1, qact2;
  };
  void build_names();
  // x: [B, H*W, C] residual stream, updated in place.
  void run_block(int stage, int block, Tensor& x, int64_t batch, QuantHooks* hooks,
                 const std::string& last_quantizer) const;
  // Window attention of one block on h [B, H*W, C] (the quantized norm1 output); returns the branch [B, H*W, C].
  Tensor window_attention(int stage, int block, const Tensor& h, int64_t batch, QuantHooks* hooks) const;
  // x: [B, H*W, C] -> [B, H/2*W/2, C_next].
  Tensor run_merge(int stage, const Tensor& x, int64_t batch, QuantHooks* hooks) const;

  ModelConfig config_;
  SwinLayout layout_ = SwinLayout::kOfficial;
  SwinWeights w_;
  std::vector<SwinStageGeometry> geometry_;
  std::vector<std::vector<BlockNames>> block_names_;  // [stage][block]
  std::vector<MergeNames> merge_names_;               // [stage], last one unused
};

}  // namespace fqvit
