// The reference's float32 fake quantization over whole tensors (library fqvit_quant): the equation of qparams.h
// applied in place.
#pragma once

#include <cstdint>

#include "fqvit/quant/qparams.h"

namespace fqvit {

// Quantize-dequantize n values in place with one QParams.
void fake_quant_inplace(float* x, int64_t n, QParams qp, BitType bt);

// Quantize-dequantize a weight [out, k] in place with per-row scales.
void fake_quant_weight(float* w, int64_t out, int64_t k, const float* scales, BitType bt);

}  // namespace fqvit
