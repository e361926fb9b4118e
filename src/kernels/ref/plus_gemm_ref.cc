// The per-channel GEMM form of gemm.h (ChannelEpilogue): the plain loops its VNNI kernel is tested against, and the
// ref path's kernel. Its equality with requantize_channels_ref / gelu_channel_ref (int_ops_plus.h) is tested too.
#include <cassert>

#include "fqvit/kernels/gemm.h"

namespace fqvit {

void gemm_u8s8_channel_u8_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                              const int32_t* bias, const RequantParams& rq, const ChannelEpilogue& ep, uint8_t* out,
                              int64_t ldo) {
  assert(k <= kMaxGemmK);
  for (int64_t i = 0; i < m; ++i) {
    const uint8_t* row = a + i * lda;
    for (int64_t j = 0; j < n; ++j) {
      const int8_t* col = w + j * k;
      int32_t acc = bias ? bias[j] : 0;
      for (int64_t p = 0; p < k; ++p) acc += int32_t{row[p]} * int32_t{col[p]};
      const int32_t h = rq.rounding_offset
                            ? requantize(acc, rq.multiplier[j], rq.rounding_offset[j], rq.zero_point, rq.lo, rq.hi)
                            : requantize(acc, rq.multiplier[j], rq.zero_point, rq.lo, rq.hi);
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
    }
  }
}

}  // namespace fqvit
