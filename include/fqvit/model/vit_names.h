// The one table of timm checkpoint names for ViT / DeiT (and DeiT distilled).
#pragma once

#include <string>

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

}  // namespace fqvit
