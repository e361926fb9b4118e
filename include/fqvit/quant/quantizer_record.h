// An activation quantizer as stored: its kind, code type and named parameter vectors (library fqvit_quant_types).
// The quantized model file holds one per point; calibrate/quantizer.h turns a record into a quantizer, the
// lowering into integer parameters.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fqvit/quant/bit_type.h"

namespace fqvit {

struct QuantizerRecord {
  std::string kind;                                    // "uniform", "ptf", "lis"
  BitType bit_type;
  std::map<std::string, std::vector<float>> floats;    // e.g. "scale"
  std::map<std::string, std::vector<int32_t>> ints;    // e.g. "zero_point", "alpha", "exp_shift"
};

}  // namespace fqvit
