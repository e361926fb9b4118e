// PTF fake quantization (library fqvit_quant); the parameters and their meaning are in ptf_params.h.
#pragma once

#include <cstdint>

#include "fqvit/quant/ptf_params.h"

namespace fqvit {

// Quantize-dequantize x [rows, channels] in place (channels == alpha.size()).
void ptf_fake_quant(float* x, int64_t rows, int64_t channels, const PtfParams& p);

}  // namespace fqvit
