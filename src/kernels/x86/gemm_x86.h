// The per-ISA GEMM kernels over VNNI-4 packed weights (packed_layout.h). Same contract and same bits as the
// reference kernels in include/fqvit/kernels/gemm.h; callers (gemm_dispatch.cc) run them only on CPUs that have
// the instructions. Plain types only in this header: it is included by files compiled with ISA flags.
#pragma once

#include <cstdint>

#include "fqvit/kernels/gemm.h"
#include "kernels/packed_layout.h"

namespace fqvit::kernels {

void gemm_u8s8s32_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                              int32_t* c, int64_t ldc);
void gemm_u8s8_requant_u8_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda,
                                      const int32_t* bias, const RequantParams& rq, uint8_t* out, int64_t ldo);

void gemm_u8s8_lookup_u8_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda,
                                     const int32_t* bias, const RequantParams& rq, const BucketLookup& lut,
                                     uint8_t* out, int64_t ldo);

// The per-channel form (gemm.h ChannelEpilogue, the fqvit_plus linears and fc1 + GELU groups).
void gemm_u8s8_channel_u8_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda,
                                      const int32_t* bias, const RequantParams& rq, const ChannelEpilogue& ep,
                                      uint8_t* out, int64_t ldo);

// requantize_u8 (gemm.h) in AVX-512 F / BW / VL: the epilogue of the GEMMs above as a pass of its own.
void requantize_u8_avx512(int64_t m, int64_t n, const int32_t* acc, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, uint8_t* out, int64_t ldo);

// AMX: the calling thread must hold tile-data permission (amx_permitted_in_this_thread(), cpu_features.h).
// `scratch` is at least amx_scratch_bytes(w) bytes, 64-byte aligned, owned by the calling thread.
int64_t amx_scratch_bytes(const Vnni4Weights& w);
void gemm_u8s8s32_amx(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                      int32_t* c, int64_t ldc, uint8_t* scratch);
void gemm_u8s8_requant_u8_amx(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                              const RequantParams& rq, uint8_t* out, int64_t ldo, uint8_t* scratch);

}  // namespace fqvit::kernels
