// The one table of timm checkpoint names for ViT / DeiT (and DeiT distilled), and the one table of its quantizer
// points (FQ-ViT's models/vit_quant.py module names).
#pragma once

#include <string>
#include <vector>

#include "fqvit/model/quant_point.h"

namespace fqvit {

enum class VitTensor {
  kClsToken,        // [1, 1, D]
  kDistToken,       // [1, 1, D], distilled only
  kPosEmbed,        // [1, prefix + N, D]
  kPatchWeight,     // [D, C, P, P]
  kPatchBias,       // [D]
  kNorm1Weight, kNorm1Bias,
  kQkvWeight,       // [3D, D], rows q; k; v with heads contiguous
  kQkvBias,
  kProjWeight, kProjBias,
  kNorm2Weight, kNorm2Bias,
  kFc1Weight,       // [hidden, D]
  kFc1Bias,
  kFc2Weight,       // [D, hidden]
  kFc2Bias,
  kNormWeight, kNormBias,
  kHeadWeight,      // [classes, D]
  kHeadBias,
  kHeadDistWeight,  // distilled only
  kHeadDistBias,
};

// The checkpoint name of a tensor; `block` is used by per-block tensors only.
std::string vit_tensor_name(VitTensor tensor, int block = -1);

// Quantizer points in dataflow order (per-block ones repeat for every block).
enum class VitPoint {
  kInput,          // qact_input: the normalized image (DeiT's input_quant)
  kPatchEmbed,     // patch_embed.qact
  kClsEmbed,       // qact_embed: prefix tokens + patches
  kPosEmbed,       // qact_pos
  kTokens,         // qact1: tokens + pos, the stream into block 0
  kNorm1,          // blocks.{i}.qact1
  kQkv,            // blocks.{i}.attn.qact1
  kScores,         // blocks.{i}.attn.qact_attn1
  kSoftmax,        // blocks.{i}.attn.log_int_softmax
  kContext,        // blocks.{i}.attn.qact2
  kProj,           // blocks.{i}.attn.qact3
  kResidual1,      // blocks.{i}.qact2
  kNorm2,          // blocks.{i}.qact3
  kFc1,            // blocks.{i}.mlp.qact1 (after GELU)
  kFc2,            // blocks.{i}.mlp.qact2
  kResidual2,      // blocks.{i}.qact4
  kFinalNorm,      // qact2
  kLogits,         // act_out
  kLogitsDist,     // act_out_dist, distilled only
};

// A point's name; `block` is used by per-block points only.
std::string vit_point_name(VitPoint point, int block = -1);
// Every point of a model with `depth` blocks, in dataflow order, as forward() calls them.
std::vector<QuantPoint> vit_points(int depth, bool quantize_input, bool distilled);
// The role of `name` if it is a ViT point (false otherwise).
bool vit_point_role(const std::string& name, QuantRole* role);
// The point `name` names and its block (-1 for a model-level point); false when it is not a ViT point.
bool parse_vit_point(const std::string& name, VitPoint* point, int* block);

}  // namespace fqvit
