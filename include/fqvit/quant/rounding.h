// Rounding and reduction conventions of the float fake-quant path, stated once.
//
// round_half_even: ties to even, as torch.round (std::rint in the default FE_TONEAREST mode; this project never
// changes the floating-point environment). The later integer kernels use their own rounding (documented beside them);
// this header is only about reproducing the reference's float32 emulation.
//
// torch_sum: the float32 sum of a contiguous row in the order PyTorch 1.13's CPU kernel uses on AVX2
// (ATen SumKernel "vectorized_inner_sum": 8-lane vectors, 4 interleaved vector accumulators with cascade levels,
// scalar tail first, then the 8 lanes in order). Sums of values that are not exactly representable depend on the
// order; reproducing it keeps the reference's integer-LayerNorm statistics and Log-Int-Softmax denominators equal
// to the last bit.
//
// No contraction: a * b + c must round twice, as torch's separate tensor operations do. The emulation sources say
// so with `#pragma GCC optimize("fp-contract=off")` (GCC contracts into FMA by default even in ISO C++ mode).
#pragma once

#include <cmath>
#include <cstdint>

namespace fqvit {

inline float round_half_even(float x) { return std::rint(x); }

// torch.sum(x[0..n)) in float32 with PyTorch 1.13's AVX2 order (see above).
float torch_sum(const float* x, int64_t n);

}  // namespace fqvit
