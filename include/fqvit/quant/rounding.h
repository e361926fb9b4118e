// Rounding and reduction conventions of the float fake-quant path, stated once.
//
// round_half_even: ties to even, as torch.round (std::rint in the default FE_TONEAREST mode; this project never
// changes the floating-point environment). The later integer kernels use their own rounding (documented beside them);
// this header is only about reproducing the reference's float32 emulation.
//
// Sums follow PyTorch's float32 order: torch_sum in numerics/cascade_sum.h.
//
// No contraction: a * b + c must round twice, as torch's separate tensor operations do. The emulation sources build
// with -ffp-contract=off (fqvit_float_emulation_sources in CMakeLists.txt; GCC contracts into FMA by default even
// in ISO C++ mode).
#pragma once

#include <cmath>
#include <cstdint>

namespace fqvit {

inline float round_half_even(float x) { return std::rint(x); }

}  // namespace fqvit
