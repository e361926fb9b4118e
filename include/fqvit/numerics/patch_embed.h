// Patch embedding: a Conv2d whose stride equals its kernel, computed as im2col + one GEMM.
#pragma once

#include "fqvit/core/tensor.h"

namespace fqvit {

// images [B, C, H, W], weight [D, C, P, P], bias [D] -> [B, (H/P)*(W/P), D], patches in row-major order.
Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias);

}  // namespace fqvit
