// The executor's integer GEMM: uint8 activation codes times int8 weight codes, int32 accumulation.
//
//   acc[m][n] = bias[n] + sum_k a[m * lda + k] * w[n][k]
//
// The activation zero point is folded into the bias by the lowering, so kernels never see it:
//   bias[n] = round(b[n] / (s_in * s_w[n])) - zp_in * sum_k w[n][k].
// Overflow bound: |a * w| <= 255 * 128 = 32640, so |sum_k a * w| <= 32640 K and |zp_in * sum_k w| <= 32640 K;
// with K <= kMaxGemmK = 32768 and |bias| <= 2^20 every partial sum stays below 2^31 (2 * 32640 * 32768 + 2^20 <
// 2^31). The lowering checks both preconditions; kernels assert them in debug builds.
//
// Requantizing form (the epilogue every fast kernel fuses):
//   out[m][n] = clamp(zero_point + apply_multiplier(acc[m][n], multiplier[n]), lo, hi)   (quant/fixed_multiplier.h)
// or, with per-channel rounding offsets (the bias's fraction of an accumulator unit, from the lowering),
//   out[m][n] = clamp(zero_point + apply_multiplier(acc[m][n], multiplier[n], rounding_offset[n]), lo, hi).
//
// Kernels are single-threaded over the rows they are given; the executor splits rows (or heads) across threads,
// so results never depend on the thread count. Every path (ref, VNNI, AMX) gives the same bits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fqvit/quant/fixed_multiplier.h"

namespace fqvit {

constexpr int64_t kMaxGemmK = 32768;

struct RequantParams {
  const FixedMultiplier* multiplier = nullptr;  // [n], one per output channel (per tensor: all equal)
  int32_t zero_point = 0;
  int32_t lo = 0;
  int32_t hi = 255;
  const int32_t* rounding_offset = nullptr;     // [n] added to the rounding term 2^(s - 1), or null
};

// Plain reference kernels (the oracle of every fast path). w is [n][k] row-major, c / out are [m][n] with row
// strides ldc / ldo.
void gemm_u8s8s32_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                      const int32_t* bias, int32_t* c, int64_t ldc);
void gemm_u8s8_requant_u8_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                              const int32_t* bias, const RequantParams& rq, uint8_t* out, int64_t ldo);

// The requantizing epilogue alone, for int32 accumulators produced elsewhere (oneDNN's matmul, a fused op):
//   out[i][j] = clamp(zero_point + apply_multiplier(acc[i][j] + bias[j], multiplier[j]), lo, hi)
// (bias may be null; acc + bias must not overflow int32, which gemm.h's bound guarantees for GEMM sums).
void requantize_u8_ref(int64_t m, int64_t n, const int32_t* acc, int64_t lda, const int32_t* bias,
                       const RequantParams& rq, uint8_t* out, int64_t ldo);
// Dispatching form: AVX-512 when the path in use is avx512_vnni or amx.
void requantize_u8(int64_t m, int64_t n, const int32_t* acc, int64_t lda, const int32_t* bias,
                   const RequantParams& rq, uint8_t* out, int64_t ldo);

// Lookup form (fc1 + GELU, int_ops.h): h = requantize(acc, multiplier[n], zero_point, lo, hi) as above (any int32
// [lo, hi]; with the rounding offsets when given), then one entry of a bucket table per code (GeluParams::bucket_packed's format):
//   hc = clamp(h, origin, last), e = packed[(hc - origin) >> shift], t = (hc - origin) mod 2^shift,
//   out = (e & 255) + (t >= e >> 10 ? ((e >> 8) & 3) - 1 : 0)
// so the int32 sums never leave registers. Needs shift <= 21 and packed covering (last - origin) >> shift.
struct BucketLookup {
  const uint32_t* packed = nullptr;
  int32_t origin = 0, last = 0, shift = 0;
};
void gemm_u8s8_lookup_u8_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                             const int32_t* bias, const RequantParams& rq, const BucketLookup& lut, uint8_t* out,
                             int64_t ldo);

// Per-channel form (the fqvit_plus ops, int_ops_plus.h): h = requantize(acc, multiplier[n], rounding_offset[n], 0,
// -2^30, 2^30) (rq's zero point 0, lo -2^30, hi 2^30), then per output channel n
//   gelu_packed null:  out = clamp(zero_point[n] + h, lo, hi)              (requantize_channels_ref)
//   else:              out = clamp(zero_point[n] + v(h), lo, hi)           (gelu_channel_ref), v from n's bucket
//     table: hc = clamp(h, origin[n], last[n]), o = hc - origin[n], e = gelu_packed[base[n] + (o >> shift[n])],
//     v = (e & 1023) - 512 + (o mod 2^shift[n] >= e >> 12 ? ((e >> 10) & 3) - 1 : 0)
// Clamping h to +-2^30 first changes nothing while |zero_point[n]| < 2^29 and 0 <= lo <= hi <= 255 (the callers
// check it): zero_point + h is then clamped to [lo, hi] either way.
struct ChannelEpilogue {
  const int32_t* zero_point = nullptr;  // [n]
  const uint32_t* gelu_packed = nullptr;
  const int32_t* origin = nullptr;      // [n] each, with gelu_packed
  const int32_t* last = nullptr;
  const int32_t* shift = nullptr;
  const int32_t* base = nullptr;
  int32_t lo = 0, hi = 255;
};
void gemm_u8s8_channel_u8_ref(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                              const int32_t* bias, const RequantParams& rq, const ChannelEpilogue& ep, uint8_t* out,
                              int64_t ldo);

// Weights packed once at load for the fastest path this CPU offers (or the one forced by FQVIT_ISA / force_isa()).
// Opaque layout; the kernels behind gemm_u8s8s32 / gemm_u8s8_requant_u8 read it.
class PackedWeights {
 public:
  struct Impl;
  PackedWeights(const int8_t* w, int64_t n, int64_t k);
  ~PackedWeights();
  PackedWeights(PackedWeights&&) noexcept;
  PackedWeights& operator=(PackedWeights&&) noexcept;
  int64_t n() const;
  int64_t k() const;
  int64_t bytes() const;  // resident bytes of the packed form, padding included
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Dispatching kernels over packed weights: same contract and same bits as the reference kernels above.
void gemm_u8s8s32(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias, int32_t* c,
                  int64_t ldc);
void gemm_u8s8_requant_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, uint8_t* out, int64_t ldo);
// The AMX path runs the lookup form on the VNNI kernel (same packed layout; no AMX lookup epilogue yet).
void gemm_u8s8_lookup_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                         const RequantParams& rq, const BucketLookup& lut, uint8_t* out, int64_t ldo);

// The per-channel form above over packed weights (the AMX path runs it on the VNNI kernel, as the lookup form).
void gemm_u8s8_channel_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, const ChannelEpilogue& ep, uint8_t* out, int64_t ldo);

// The kernel paths. Chosen once from CPUID (the fastest this CPU and OS offer); the environment variable
// FQVIT_ISA=ref|avx512_vnni|amx or force_gemm_isa() forces one (tests, comparisons). Packed weights record the
// path they were packed for and always run on it, so forcing a path affects weights packed afterwards.
enum class GemmIsa { kRef, kAvx512Vnni, kAmx };

// The path in use, by name: "ref", "avx512_vnni" or "amx"; and as the enum (the other kernels' dispatch reads it).
std::string gemm_isa();
GemmIsa gemm_isa_in_use();
const char* gemm_isa_name(GemmIsa isa);
// Whether this CPU (and kernel) can run the path; kRef always can.
bool gemm_isa_supported(GemmIsa isa);
// Forces the path for weights packed from now on. Throws fqvit::Error naming the path when the CPU lacks it.
void force_gemm_isa(GemmIsa isa);
// The path packed weights run on (the AMX path falls back to AVX-512 VNNI in a thread the OS refuses tile state).
GemmIsa packed_isa(const PackedWeights& w);

}  // namespace fqvit
