// Bit-exact checks against bits that OpenBLAS or oneDNN made (torch's goldens, the FQ-ViT reference's results) hold
// only on the platform that made them: those libraries pick their kernels by CPU, so torch itself gives other bits
// elsewhere. Such tests skip, saying why, on another platform.
#pragma once

#include <string>

#include "fqvit/numerics/torch_vec_ops.h"

// The platform of shared/reference: fqvit reproduced the reference bit for bit on it (OpenBLAS kernel family and
// AVX-512, see torch_cpu::platform()).
inline constexpr const char* kReferencePlatform = "OpenBLAS SkylakeX, AVX-512";
// The platform of shared/reference/deit_tiny (its README): OpenBLAS 0.3.21 fell back to its generic Prescott kernels
// on a CPU newer than it knows.
inline constexpr const char* kDeitTinyReferencePlatform = "OpenBLAS Prescott, AVX-512";

#define FQVIT_REQUIRE_PLATFORM(expected)                                                                       \
  do {                                                                                                         \
    const std::string fqvit_here = ::fqvit::torch_cpu::platform();                                             \
    if (fqvit_here != std::string(expected)) {                                                                 \
      GTEST_SKIP() << "bits made on \"" << (expected) << "\", this machine is \"" << fqvit_here                \
                   << "\": OpenBLAS/oneDNN run other kernels here, so torch itself differs: skipped";          \
    }                                                                                                          \
  } while (0)
