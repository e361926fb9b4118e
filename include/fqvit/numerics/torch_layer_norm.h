// Float kernels that reproduce PyTorch's CPU arithmetic bit for bit, so the float graph matches the FQ-ViT reference
// (Debian 12's python3-torch 1.13, CPU capability AVX2) exactly, not just within a tolerance.
#pragma once

#include <cstdint>

namespace fqvit::torch_cpu {

// LayerNorm over the last axis, bit-identical to torch 1.13's AVX2 CPU kernel (Debian python3-torch):
// y[r, :] = layer_norm(x[r, :], gamma, beta, eps). y may alias x. Rows run in parallel (OpenMP); each row's
// arithmetic is torch's, so the result does not depend on the thread count.
void layer_norm(const float* x, int64_t rows, int64_t channels, const float* gamma, const float* beta, float eps,
                float* y);

}  // namespace fqvit::torch_cpu
