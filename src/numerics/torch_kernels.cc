// The torch kernel set: each op computed the way Debian's PyTorch 1.13 computes it on the CPU, so that results are
// bit-identical (see float_kernels.h for why). Calls go to the very libraries torch uses (OpenBLAS, oneDNN, Sleef),
// with the arguments torch passes them.
#include <omp.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>
#include <dnnl.hpp>

#include "fqvit/core/error.h"
#include "fqvit/numerics/fast_kernels.h"
#include "fqvit/numerics/torch_layer_norm.h"
#include "fqvit/numerics/torch_vec_ops.h"

// OpenBLAS's Fortran interface, which torch's at::native::cpublas::gemm calls (32-bit integers in Debian's build).
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
extern "C" void openblas_set_num_threads(int num_threads);
extern "C" char* openblas_get_corename(void);

namespace fqvit {
namespace {

// On a split-invariant kernel family (below) a linear is split into row slices (OpenBLAS's N dimension), one per
// thread, that keep torch's arithmetic for every value: each slice stays above the small-matrix size (M*N*K <= 100^3
// takes kernels that do not block K), and slices start at multiples of kSliceAlign rows, where OpenBLAS's own N
// tiles (4 wide for SkylakeX sgemm; 16 for its M side) start too.
constexpr double kOpenBlasSmallMnk = 100.0 * 100.0 * 100.0;
constexpr int64_t kSliceAlign = 16;

// Whether this OpenBLAS kernel family gives a value the same bits however the product is split across threads:
// verified for SkylakeX and Cooperlake (which runs SkylakeX's sgemm kernel; 1 and 2 threads, sliced or whole, against
// torch). The Haswell and Prescott kernels are not (torch itself gives other bits with 1 and 2 OpenBLAS threads
// there, and no row or column split of single-threaded calls reproduces OpenBLAS's 2-thread bits), so on other
// families fqvit makes torch's calls exactly: whole products, threaded by OpenBLAS.
bool split_invariant_blas() {
  static const bool invariant = [] {
    const std::string core = openblas_get_corename();
    return core == "SkylakeX" || core == "Cooperlake";
  }();
  return invariant;
}

// One CPU engine for the oneDNN primitives below.
const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// torch's addmm_impl_cpu_ on row-major tensors: C[m, n] = beta C + alpha A[m, k] op(B) is handed to column-major
// BLAS as C^T = op(B)^T A^T, i.e. sgemm(op_b, 'N', n, m, k, alpha, B, ldb, A, lda, beta, C, ldc).
void torch_gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                int64_t ldb, bool b_transposed, float beta, float* c, int64_t ldc) {
  const char transa = b_transposed ? 'T' : 'N', transb = 'N';
  const int im = static_cast<int>(n), in = static_cast<int>(m), ik = static_cast<int>(k);
  const int ilda = static_cast<int>(ldb), ildb = static_cast<int>(lda), ildc = static_cast<int>(ldc);
  sgemm_(&transa, &transb, &im, &in, &ik, &alpha, b, &ilda, a, &ildb, &beta, c, &ildc);
}

class TorchKernels final : public FloatKernels {
 public:
  // F.linear = addmm(bias, x, W^T): the bias is copied into the output first and the product accumulated onto it
  // (beta = 1), so bias + (first K block) + (second K block) for K > 384, in that order.
  // Row slices run on our OpenMP threads, each a single-threaded OpenBLAS call (see kSliceAlign); one whole call,
  // threaded by OpenBLAS, on kernel families that are not split-invariant.
  void linear(const float* x, int64_t rows, int64_t in, int64_t x_stride, const Tensor& weight, const Tensor* bias,
              float* y) const override {
    const int64_t out = weight.dim(0);
    const double row_mnk = static_cast<double>(out) * static_cast<double>(in);
    const auto slice_rows = [&](int64_t slices) {
      return ((rows + slices - 1) / slices + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
    };
    const auto valid = [&](int64_t slices) {  // the last (smallest) slice exists and is not a small matrix
      const int64_t last = rows - (slices - 1) * slice_rows(slices);
      return last > 0 && static_cast<double>(last) * row_mnk > kOpenBlasSmallMnk;
    };
    int64_t slices = split_invariant_blas() ? std::min<int64_t>(omp_get_max_threads(), rows / kSliceAlign) : 1;
    slices = std::max<int64_t>(slices, 1);
    while (slices > 1 && !valid(slices)) --slices;
    const int64_t per_slice = slice_rows(slices);
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(slices))
    for (int64_t s = 0; s < slices; ++s) {
      const int64_t begin = s * per_slice, count = std::min(rows, begin + per_slice) - begin;
      if (count <= 0) continue;
      float* ys = y + begin * out;
      float beta = 0.0f;
      if (bias != nullptr) {
        for (int64_t r = 0; r < count; ++r) std::copy(bias->data(), bias->data() + out, ys + r * out);
        beta = 1.0f;
      }
      torch_gemm(count, out, in, 1.0f, x + begin * x_stride, x_stride, weight.data(), in, /*b_transposed=*/true,
                 beta, ys, out);
    }
  }

  // torch.matmul on [.., m, k] x [.., k, n] loops over the batch calling BLAS once per product (bmm's "split along
  // the batch dimension" path); a scale is a separate float multiply afterwards, as in (q @ k^T) * scale. matmul
  // first reshapes [outer, heads, k, n] to [outer * heads, k, n]: a view when outer == 1 or heads == 1 (a size-1
  // dimension merges with any stride), else (heads strided inside the fused qkv rows) a contiguous copy, which BLAS
  // then sees untransposed. The transpose flag decides which kernel OpenBLAS takes for small products (Swin's
  // 49 x 49 x 32 windows; SkylakeX's small-matrix kernels), so k^T is copied here exactly when torch copies.
  void batched_gemm(int64_t outer, int64_t heads, int64_t m, int64_t n, int64_t k, float alpha, bool b_transposed,
                    const std::function<GemmOperands(int64_t)>& operands) const override {
    const int64_t count = outer * heads;
    const bool copy_b = b_transposed && outer > 1 && heads > 1;
#pragma omp parallel for schedule(dynamic) if (split_invariant_blas())
    for (int64_t i = 0; i < count; ++i) {
      const GemmOperands o = operands(i);
      if (copy_b) {
        thread_local std::vector<float> b_copy;
        b_copy.resize(static_cast<size_t>(k * n));
        for (int64_t r = 0; r < n; ++r) {
          for (int64_t j = 0; j < k; ++j) b_copy[static_cast<size_t>(j * n + r)] = o.b[r * o.ldb + j];
        }
        torch_gemm(m, n, k, 1.0f, o.a, o.lda, b_copy.data(), n, /*b_transposed=*/false, 0.0f, o.c, o.ldc);
      } else {
        torch_gemm(m, n, k, 1.0f, o.a, o.lda, o.b, o.ldb, b_transposed, 0.0f, o.c, o.ldc);
      }
      if (alpha != 1.0f) {
        for (int64_t r = 0; r < m; ++r) {
          float* row = o.c + r * o.ldc;
          for (int64_t j = 0; j < n; ++j) row[j] *= alpha;
        }
      }
    }
  }

  // F.conv2d through torch's mkldnn path: oneDNN's direct convolution with plain NCHW source, blocked weights and
  // destination chosen by oneDNN ("any"), forward_training, as ideep sets it up. The destination is reordered
  // straight into [B, H', W', D], which is the token layout.
  Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias) const override {
    using dnnl::memory;
    const int64_t batch = images.dim(0), channels = images.dim(1), height = images.dim(2), width = images.dim(3);
    const int64_t d = weight.dim(0), p = weight.dim(2);
    const int64_t gh = height / p, gw = width / p;
    const dnnl::engine& engine = cpu_engine();
    dnnl::stream stream(engine);
    const memory::desc src_md({batch, channels, height, width}, memory::data_type::f32, memory::format_tag::nchw);
    const memory::desc user_weight_md({d, channels, p, p}, memory::data_type::f32, memory::format_tag::oihw);
    const memory::desc any_weight_md({d, channels, p, p}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc bias_md({d}, memory::data_type::f32, memory::format_tag::a);
    const memory::desc any_dst_md({batch, d, gh, gw}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc token_md({batch, d, gh, gw}, memory::data_type::f32, memory::format_tag::nhwc);
    const dnnl::convolution_forward::desc conv_desc(
        dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src_md, any_weight_md, bias_md,
        any_dst_md, {p, p}, {0, 0}, {0, 0});
    const dnnl::convolution_forward::primitive_desc conv_pd(conv_desc, engine);

    memory src(src_md, engine, const_cast<float*>(images.data()));
    memory user_weight(user_weight_md, engine, const_cast<float*>(weight.data()));
    memory conv_weight(conv_pd.weights_desc(), engine);
    dnnl::reorder(user_weight, conv_weight).execute(stream, user_weight, conv_weight);
    memory bias_mem(bias_md, engine, const_cast<float*>(bias.data()));
    memory conv_dst(conv_pd.dst_desc(), engine);
    dnnl::convolution_forward(conv_pd).execute(stream, {{DNNL_ARG_SRC, src},
                                                        {DNNL_ARG_WEIGHTS, conv_weight},
                                                        {DNNL_ARG_BIAS, bias_mem},
                                                        {DNNL_ARG_DST, conv_dst}});
    auto out = Tensor::uninitialized({batch, gh * gw, d});
    memory tokens(token_md, engine, out.data());
    dnnl::reorder(conv_dst, tokens).execute(stream, conv_dst, tokens);
    stream.wait();
    return out;
  }

  void layer_norm(const float* x, int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta, float eps,
                  float* y) const override {
    torch_cpu::layer_norm(x, rows, channels, gamma.data(), beta.data(), eps, y);
  }
  // F.gelu goes to oneDNN in torch 1.13 (ideep eltwise_gelu_erf, forward_training): element-wise, so the shape
  // handed to it does not change any value.
  void gelu(float* x, int64_t n) const override {
    using dnnl::memory;
    const dnnl::engine& engine = cpu_engine();
    dnnl::stream stream(engine);
    const memory::desc md({n}, memory::data_type::f32, memory::format_tag::a);
    const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_gelu_erf, md,
                                           0.0f, 0.0f);
    const dnnl::eltwise_forward::primitive_desc pd(desc, engine);
    memory data(md, engine, x);
    dnnl::eltwise_forward(pd).execute(stream, {{DNNL_ARG_SRC, data}, {DNNL_ARG_DST, data}});
    stream.wait();
  }
  void softmax_rows(float* x, int64_t rows, int64_t cols) const override { torch_cpu::softmax_rows(x, rows, cols); }
  // Off the split-invariant families every product is one whole OpenBLAS call threaded by OpenBLAS (torch's bits
  // need its thread count), so our loops (a few % of the time: LayerNorm, softmax, GELU, the quantizers) run on the
  // calling thread instead of beside OpenBLAS's workers. Every loop of this set gives the same bits on any number
  // of threads, so this changes no value.
  int loop_thread_limit() const override { return split_invariant_blas() ? 0 : 1; }
  void mean_over_tokens(const float* x, int64_t batch, int64_t tokens, int64_t channels, float* y) const override {
    torch_cpu::mean_over_tokens(x, batch, tokens, channels, y);
  }
};

}  // namespace

const FloatKernels& torch_kernels() {
  if (!torch_cpu::torch_cpu_supported()) {
    fail("this CPU", "instruction set for --numerics torch", "no AVX2 + FMA",
         "AVX2 and FMA, which PyTorch's kernels are made of (--numerics fast runs without them)");
  }
  // OpenBLAS runs single-threaded inside our OpenMP loops: two thread pools spinning on two cores cost more than
  // they bring (OpenBLAS's sched_yield loop was 9% of a profile).
  static const TorchKernels& kernels = [] {
    if (split_invariant_blas()) openblas_set_num_threads(1);
    static const TorchKernels instance;
    return std::cref(instance);
  }();
  return kernels;
}

}  // namespace fqvit
