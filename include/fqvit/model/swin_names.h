// The one table of Swin checkpoint names, for both layouts a Swin checkpoint comes in:
//
// - kOfficial: microsoft/Swin-Transformer and FQ-ViT (models/swin_quant.py), and timm before 0.9. PatchMerging
//   closes stage i as `layers.{i}.downsample.*` (no merging after the last stage); the classifier is `head.*`;
//   `.pth` files also store the buffers `relative_position_index` and `attn_mask`.
// - kTimm: current timm hub files (timm/models/swin_transformer.py, checkpoint_filter_fn). The merging opens the
//   next stage, `layers.{i+1}.downsample.*` (stage 0 has none); the classifier is `head.fc.*`; no buffers.
//
// Both concatenate the 2x2 neighbourhood in the same order, [x(2r, 2c), x(2r+1, 2c), x(2r, 2c+1), x(2r+1, 2c+1)]:
// the official code writes torch.cat([x0, x1, x2, x3]) with x1 = x[1::2, 0::2], and timm writes
// reshape(B, H/2, 2, W/2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3), whose outer offset is the column. So the
// reduction and norm weights mean the same thing in both files and converting a layout is renaming only
// (checkpoint_filter_fn only renames too). The graph always works in the official layout: SwinModel asks this table
// for the name of tensor (role, stage, block) in the file's layout, where `stage` is the official stage index.
#pragma once

#include <string>
#include <vector>

#include "fqvit/model/quant_point.h"

namespace fqvit {

enum class SwinLayout { kOfficial, kTimm };

enum class SwinTensor {
  kPatchWeight,   // patch_embed.proj.weight [C0, in_chans, P, P]
  kPatchBias,     // [C0]
  kPatchNormWeight, kPatchNormBias,  // patch_embed.norm.* [C0]
  // Per block (stage, block): dimension C of the stage, hidden = mlp_ratio * C.
  kNorm1Weight, kNorm1Bias,
  kRelPosBiasTable,  // attn.relative_position_bias_table [(2W-1)^2, heads]
  kRelPosIndex,      // attn.relative_position_index [W^2, W^2] int64 buffer, official .pth files only
  kAttnMask,         // attn_mask [nW, W^2, W^2] buffer of shifted blocks, official .pth files only
  kQkvWeight,        // [3C, C], rows q; k; v with heads contiguous
  kQkvBias,
  kProjWeight, kProjBias,
  kNorm2Weight, kNorm2Bias,
  kFc1Weight, kFc1Bias,  // [hidden, C]
  kFc2Weight, kFc2Bias,  // [C, hidden]
  // Per stage: the patch merging after official stage `stage`.
  kMergeNormWeight, kMergeNormBias,  // [4C]
  kMergeReduction,                   // [C_next, 4C], no bias
  kNormWeight, kNormBias,            // final norm [C_last]
  kHeadWeight,                       // [classes, C_last]
  kHeadBias,
};

// The checkpoint name of `tensor` in `layout`. `stage` (official index) is used by per-stage and per-block
// tensors, `block` by per-block tensors.
std::string swin_tensor_name(SwinTensor tensor, SwinLayout layout, int stage = -1, int block = -1);

// Detects the layout from the tensor names: `head.fc.weight` means timm, `head.weight` official; the merging names
// must agree (timm has no `layers.0.downsample.*`). Throws Error naming `file` when the names fit neither layout.
SwinLayout detect_swin_layout(const std::vector<std::string>& names, const std::string& file);

// Quantizer points (FQ-ViT's models/swin_quant.py module names) in dataflow order. Per-block points are named
// "layers.{stage}.blocks.{block}.<name>", per-merging ones "layers.{stage}.downsample.<name>" (official stage
// index, no merging after the last stage), whatever the checkpoint's layout.
enum class SwinPoint {
  kInput,            // qact_input: the normalized image (input_quant)
  kPatchEmbed,       // patch_embed.qact_before_norm
  kPatchNorm,        // patch_embed.qact
  kNorm1,            // block: qact1
  kQkv,              // block: attn.qact1
  kScores,           // block: attn.qact_attn1
  kBiasTable,        // block: attn.qact_table
  kScoresBiased,     // block: attn.qact2
  kSoftmax,          // block: attn.log_int_softmax
  kContext,          // block: attn.qact3
  kProj,             // block: attn.qact4
  kResidual1,        // block: qact2
  kNorm2,            // block: qact3
  kFc1,              // block: mlp.qact1 (after GELU)
  kFc2,              // block: mlp.qact2
  kResidual2,        // block: qact4
  kMergeNorm,        // merging: qact1
  kMergeReduction,   // merging: qact2
  kFinalNorm,        // qact2
  kPooled,           // qact3
  kLogits,           // act_out
};

// A point's name; `stage` and `block` are used by per-block (both) and per-merging (stage) points only.
std::string swin_point_name(SwinPoint point, int stage = -1, int block = -1);
// Every point of a model with these stage depths, in dataflow order, as forward() calls them.
std::vector<QuantPoint> swin_points(const std::vector<int>& depths, bool quantize_input);
// The role of `name` if it is a Swin point (false otherwise).
bool swin_point_role(const std::string& name, QuantRole* role);
// The point `name` names, its official stage and its block (-1 where the point has none); false when it is not a
// Swin point.
bool parse_swin_point(const std::string& name, SwinPoint* point, int* stage, int* block);

}  // namespace fqvit
