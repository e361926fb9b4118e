// The AMX kernels of src/kernels/x86/gemm_amx.cc, compiled against a scalar emulation of the tile instructions
// (amx_emulator.cc), so that their blocking, tails, packing and epilogue are tested on CPUs without AMX. The
// emulation follows the Intel SDM pseudo-code of LDTILECFG, TILELOADD, TILESTORED, TILEZERO and TDPBUSD; it is
// no substitute for running the real instructions (gemm_test.cc does that where the CPU has them).
#pragma once

#include <cstdint>

#include "fqvit/kernels/gemm.h"

namespace fqvit::testing {

// Same contract as gemm_u8s8s32_ref / gemm_u8s8_requant_u8_ref (w is [n][k] row-major); packs w itself.
// Requires AVX-512 (the epilogue's instructions are real).
void emulated_amx_gemm_u8s8s32(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                               const int32_t* bias, int32_t* c, int64_t ldc);
void emulated_amx_gemm_u8s8_requant_u8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                                       const int8_t* w, const int32_t* bias, const RequantParams& rq, uint8_t* out,
                                       int64_t ldo);

}  // namespace fqvit::testing
