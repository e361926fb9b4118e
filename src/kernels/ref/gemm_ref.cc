// Plain-loop reference GEMMs (include/fqvit/kernels/gemm.h): the normative definition the fast paths are tested
// against. Accumulation in int32 is exact under the header's bound (K <= kMaxGemmK, |bias| <= 2^20).
#include <cassert>

#include "fqvit/kernels/gemm.h"

namespace fqvit {

namespace {

// Calls emit(i, j, acc) with every int32 output of A W^T + bias (W row-major [n][k]): the one accumulation loop of
// the three reference GEMMs below.
template <typename Emit>
void for_each_accumulator(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                          const int32_t* bias, Emit emit) {
  assert(k <= kMaxGemmK);
  for (int64_t i = 0; i < m; ++i) {
    const uint8_t* row = a + i * lda;
    for (int64_t j = 0; j < n; ++j) {
      const int8_t* col = w + j * k;
      int32_t acc = bias ? bias[j] : 0;
      for (int64_t p = 0; p < k; ++p) acc += int32_t{row[p]} * int32_t{col[p]};
      emit(i, j, acc);
    }
  }
}

int32_t requantize_one(int32_t acc, const RequantParams& rq, int64_t j) {
  return rq.rounding_offset ? requantize(acc, rq.multiplier[j], rq.rounding_offset[j], rq.zero_point, rq.lo, rq.hi)
                     : requantize(acc, rq.multiplier[j], rq.zero_point, rq.lo, rq.hi);
}

}  // namespace

void gemm_u8s8s32_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                      const int32_t* bias, int32_t* c, int64_t ldc) {
  for_each_accumulator(m, n, k, a, lda, w, bias, [&](int64_t i, int64_t j, int32_t acc) { c[i * ldc + j] = acc; });
}

void gemm_u8s8_requant_u8_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                              const int32_t* bias, const RequantParams& rq, uint8_t* out, int64_t ldo) {
  for_each_accumulator(m, n, k, a, lda, w, bias, [&](int64_t i, int64_t j, int32_t acc) {
    out[i * ldo + j] = static_cast<uint8_t>(requantize_one(acc, rq, j));
  });
}

void gemm_u8s8_lookup_u8_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                             const int32_t* bias, const RequantParams& rq, const BucketLookup& lut, uint8_t* out,
                             int64_t ldo) {
  assert(lut.shift >= 0 && lut.shift <= 21 && lut.origin <= lut.last);
  for_each_accumulator(m, n, k, a, lda, w, bias, [&](int64_t i, int64_t j, int32_t acc) {
    const int32_t h = requantize_one(acc, rq, j);
    const int64_t offset = int64_t{h < lut.origin ? lut.origin : (h > lut.last ? lut.last : h)} - lut.origin;
    const uint32_t e = lut.packed[offset >> lut.shift];
    const int64_t in_bucket = offset & ((int64_t{1} << lut.shift) - 1);
    const int32_t delta = in_bucket >= (e >> 10) ? static_cast<int32_t>((e >> 8) & 3) - 1 : 0;
    out[i * ldo + j] = static_cast<uint8_t>(static_cast<int32_t>(e & 0xFF) + delta);
  });
}

// The per-channel form (gemm.h ChannelEpilogue, the fqvit_plus linears): requantize to h, optionally through the
// channel's GELU bucket table, then the channel's zero point and clamp.
void gemm_u8s8_channel_u8_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                              const int32_t* bias, const RequantParams& rq, const ChannelEpilogue& ep, uint8_t* out,
                              int64_t ldo) {
  for_each_accumulator(m, n, k, a, lda, w, bias, [&](int64_t i, int64_t j, int32_t acc) {
    const int32_t h = requantize_one(acc, rq, j);
    int64_t v = h;
    if (ep.gelu_packed != nullptr) {
      const int64_t hc = h < ep.origin[j] ? ep.origin[j] : (h > ep.last[j] ? ep.last[j] : h);
      const int64_t offset = hc - ep.origin[j];
      const uint32_t e = ep.gelu_packed[ep.base[j] + (offset >> ep.shift[j])];
      const int64_t in_bucket = offset & ((int64_t{1} << ep.shift[j]) - 1);
      v = int64_t{e & 1023} - 512 + (in_bucket >= (e >> 12) ? int64_t{(e >> 10) & 3} - 1 : 0);
    }
    v += ep.zero_point[j];
    out[i * ldo + j] = static_cast<uint8_t>(v < ep.lo ? ep.lo : (v > ep.hi ? ep.hi : v));
  });
}

void requantize_u8_ref(int64_t m, int64_t n, const int32_t* acc, int64_t lda, const int32_t* bias,
                       const RequantParams& rq, uint8_t* out, int64_t ldo) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int32_t v = acc[i * lda + j] + (bias ? bias[j] : 0);
      out[i * ldo + j] = static_cast<uint8_t>(requantize_one(v, rq, j));
    }
  }
}

}  // namespace fqvit
