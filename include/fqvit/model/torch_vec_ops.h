// PyTorch 1.13's own vector kernels where torch computes an op itself rather than in a library (softmax; LayerNorm is
// in torch_layer_norm.h), bit-identical to Debian's python3-torch (CPU capability AVX2, exp from libsleef): what the
// FQ-ViT reference computed. Needs AVX2 + FMA at run time (torch_cpu_supported()).
#pragma once

#include <cstdint>

namespace fqvit::torch_cpu {

// True when this CPU runs the AVX2 + FMA code these kernels are made of.
bool torch_cpu_supported();

// softmax over each row of x[rows, cols] in place, as torch's _vec_softmax_lastdim: vector max, exp(x - max) with
// Sleef, a vector sum reduced by a 128/64/32-bit shuffle tree, then x * (1 / sum).
void softmax_rows(float* x, int64_t rows, int64_t cols);

}  // namespace fqvit::torch_cpu
