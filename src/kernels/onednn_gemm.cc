#include "kernels/onednn_gemm.h"

#include <oneapi/dnnl/dnnl.h>

namespace fqvit::onednn {
namespace {

dnnl_engine_t cpu_engine() {
  static dnnl_engine_t engine = [] {
    dnnl_engine_t e = nullptr;
    if (dnnl_engine_create(&e, dnnl_cpu, 0) != dnnl_success) return static_cast<dnnl_engine_t>(nullptr);
    return e;
  }();
  return engine;
}

// One stream per thread: the executor's threads each run their own rows.
dnnl_stream_t thread_stream() {
  thread_local dnnl_stream_t stream = [] {
    dnnl_stream_t s = nullptr;
    if (cpu_engine() == nullptr || dnnl_stream_create(&s, cpu_engine(), dnnl_stream_default_flags) != dnnl_success) {
      return static_cast<dnnl_stream_t>(nullptr);
    }
    return s;
  }();
  return stream;
}

}  // namespace

U8S8Matmul::U8S8Matmul(const int8_t* w, int64_t n, int64_t k) : w_(w), n_(n), k_(k) {
  if (cpu_engine() == nullptr) return;
  // M is a runtime dimension: one primitive serves every row count. Row strides are runtime too.
  const dnnl_dims_t src_dims = {DNNL_RUNTIME_DIM_VAL, k}, src_strides = {DNNL_RUNTIME_DIM_VAL, 1};
  const dnnl_dims_t w_dims = {k, n}, w_strides = {1, k};  // w^T viewed in place: [k][n] with column stride k
  const dnnl_dims_t dst_dims = {DNNL_RUNTIME_DIM_VAL, n}, dst_strides = {DNNL_RUNTIME_DIM_VAL, 1};
  dnnl_memory_desc_t src_md, w_md, dst_md;
  if (dnnl_memory_desc_init_by_strides(&src_md, 2, src_dims, dnnl_u8, src_strides) != dnnl_success ||
      dnnl_memory_desc_init_by_strides(&w_md, 2, w_dims, dnnl_s8, w_strides) != dnnl_success ||
      dnnl_memory_desc_init_by_strides(&dst_md, 2, dst_dims, dnnl_s32, dst_strides) != dnnl_success) {
    return;
  }
  dnnl_matmul_desc_t desc;
  if (dnnl_matmul_desc_init(&desc, &src_md, &w_md, nullptr, &dst_md) != dnnl_success) return;
  dnnl_primitive_desc_t pd = nullptr;
  if (dnnl_primitive_desc_create(&pd, &desc, nullptr, cpu_engine(), nullptr) != dnnl_success) return;
  dnnl_primitive_t prim = nullptr;
  if (dnnl_primitive_create(&prim, pd) == dnnl_success) primitive_ = prim;
  dnnl_primitive_desc_destroy(pd);
}

U8S8Matmul::~U8S8Matmul() {
  if (primitive_ != nullptr) dnnl_primitive_destroy(static_cast<dnnl_primitive_t>(primitive_));
}

bool U8S8Matmul::run(int64_t m, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc) const {
  dnnl_stream_t stream = thread_stream();
  if (primitive_ == nullptr || stream == nullptr || m <= 0) return m <= 0 && primitive_ != nullptr;
  const dnnl_dims_t src_dims = {m, k_}, src_strides = {lda, 1};
  const dnnl_dims_t w_dims = {k_, n_}, w_strides = {1, k_};
  const dnnl_dims_t dst_dims = {m, n_}, dst_strides = {ldc, 1};
  dnnl_memory_desc_t src_md, w_md, dst_md;
  dnnl_memory_desc_init_by_strides(&src_md, 2, src_dims, dnnl_u8, src_strides);
  dnnl_memory_desc_init_by_strides(&w_md, 2, w_dims, dnnl_s8, w_strides);
  dnnl_memory_desc_init_by_strides(&dst_md, 2, dst_dims, dnnl_s32, dst_strides);
  dnnl_memory_t src = nullptr, wts = nullptr, dst = nullptr;
  bool ok = dnnl_memory_create(&src, &src_md, cpu_engine(), const_cast<uint8_t*>(a)) == dnnl_success &&
            dnnl_memory_create(&wts, &w_md, cpu_engine(), const_cast<int8_t*>(w_)) == dnnl_success &&
            dnnl_memory_create(&dst, &dst_md, cpu_engine(), c) == dnnl_success;
  if (ok) {
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}};
    ok = dnnl_primitive_execute(static_cast<dnnl_primitive_t>(primitive_), stream, 3, args) == dnnl_success &&
         dnnl_stream_wait(stream) == dnnl_success;
  }
  for (dnnl_memory_t mem : {src, wts, dst}) {
    if (mem != nullptr) dnnl_memory_destroy(mem);
  }
  return ok;
}

}  // namespace fqvit::onednn
