// PyTorch 1.13's own vector kernels where torch computes an op itself rather than in a library (softmax; LayerNorm is
// in torch_layer_norm.h), bit-identical to Debian's python3-torch (CPU capability AVX2, exp from libsleef): what the
// FQ-ViT reference computed. Needs AVX2 + FMA at run time (torch_cpu_supported()).
#pragma once

#include <cstdint>
#include <string>

namespace fqvit::torch_cpu {

// True when this CPU runs the AVX2 + FMA code these kernels are made of.
bool torch_cpu_supported();

// What decides the library-made bits of the torch numerics on this machine: OpenBLAS's kernel family (it picks one
// by CPU at load time) and whether oneDNN runs AVX-512 code, e.g. "OpenBLAS SkylakeX, AVX-512". Goldens recorded on
// one platform are only bit-exact on the same one: torch itself gives other bits elsewhere.
std::string platform();

// softmax over each row of x[rows, cols] in place, as torch's _vec_softmax_lastdim: vector max, exp(x - max) with
// Sleef, a vector sum reduced by a 128/64/32-bit shuffle tree, then x * (1 / sum).
void softmax_rows(float* x, int64_t rows, int64_t cols);

// x.mean(dim=1) of x[batch, tokens, channels]: torch sums (torch_strided_sum in cascade_sum.h),
// then divides by the count.
void mean_over_tokens(const float* x, int64_t batch, int64_t tokens, int64_t channels, float* y);

}  // namespace fqvit::torch_cpu
