// The float arithmetic a graph runs on, chosen per model. Two sets with one interface:
// - fast:  oneDNN sgemm/im2col, Eigen's vectorized erf/exp, AVX-512; for FP32 inference.
// - torch: the reference's own kernels (OpenBLAS sgemm as torch calls it, oneDNN's direct convolution and GELU as
//          torch's mkldnn path builds them, torch 1.13's softmax with Sleef's exp, its LayerNorm and mean), bit-identical
//          to Debian's python3-torch. Calibration and fake quant use it: the quantized ViT-Tiny is chaotic enough that one
//          float ulp at a rounding boundary changes predictions, so parity with the reference needs its exact floats.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fqvit/core/tensor.h"

namespace fqvit {

enum class Numerics { kFast, kTorch };

// "fast" / "torch"; anything else is an error naming `origin` (a file, or "command line"), `field` and the accepted
// values.
Numerics parse_numerics(const std::string& text, const std::string& origin, const std::string& field);
std::string to_string(Numerics numerics);  // "fast" / "torch"

// One product of a batch: C = alpha * A op(B), row-major with leading dimensions.
struct GemmOperands {
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
};

class FloatKernels {
 public:
  virtual ~FloatKernels() = default;
  // y[rows, out] = x[rows, in] weight[out, in]^T + bias[out] (bias may be null); x has row stride x_stride.
  virtual void linear(const float* x, int64_t rows, int64_t in, int64_t x_stride, const Tensor& weight,
                      const Tensor* bias, float* y) const = 0;
  // outer x heads independent products C_i[m, n] = alpha * A_i[m, k] op(B_i), op(B) = B^T ([n, k]) when
  // b_transposed; i = o * heads + h, as a [outer, heads, m, k] @ [outer, heads, k, n] matmul.
  virtual void batched_gemm(int64_t outer, int64_t heads, int64_t m, int64_t n, int64_t k, float alpha,
                            bool b_transposed,
                            const std::function<GemmOperands(int64_t)>& operands) const = 0;
  // images [B, C, H, W], weight [D, C, P, P], bias [D] -> [B, (H/P)*(W/P), D]: a Conv2d with stride = kernel.
  virtual Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias) const = 0;
  // LayerNorm over the last axis; y may alias x.
  virtual void layer_norm(const float* x, int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta,
                          float eps, float* y) const = 0;
  // Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), in place.
  virtual void gelu(float* x, int64_t n) const = 0;
  // Softmax over each row, in place.
  virtual void softmax_rows(float* x, int64_t rows, int64_t cols) const = 0;
  // y[b, c] = mean over t of x[b, t, c] (Swin's average pool over tokens).
  virtual void mean_over_tokens(const float* x, int64_t batch, int64_t tokens, int64_t channels, float* y) const = 0;
  // The most OpenMP threads a forward pass on this set should use for its own loops (0 = no limit). Where the
  // products are threaded by a BLAS pool of their own, ours stays on the calling thread: two pools on the same
  // cores fight (OpenBLAS's idle workers spin in sched_yield while ours run), and the products are most of the work.
  virtual int loop_thread_limit() const { return 0; }
};

// The kernel set for `numerics`; throws when torch numerics cannot run here (no AVX2 + FMA).
const FloatKernels& float_kernels(Numerics numerics);

}  // namespace fqvit
