// The two kernel sets behind float_kernels(); see float_kernels.h.
#pragma once

#include "fqvit/numerics/float_kernels.h"

namespace fqvit {

const FloatKernels& fast_kernels();
// Throws when the CPU lacks AVX2 + FMA, which torch's kernels are made of.
const FloatKernels& torch_kernels();

}  // namespace fqvit
