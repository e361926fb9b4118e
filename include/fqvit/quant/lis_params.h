// Log-Int-Softmax parameters (library fqvit_quant_types); the method is described in log_int_softmax.h and
// docs/quantization.md. Codes k in 0..2^b-1 mean 2^-k; lis_zero_code(b) = 2^b means "exactly zero".
#pragma once

#include <cstdint>

namespace fqvit {

struct LisParams {
  int bits = 4;        // b: codes 0..2^b - 1
  int exp_shift = 30;  // n of i-exp (reference: 30; integer-safe: 20)
};

constexpr int kLisReferenceShift = 30;

// The code meaning "attention weight exactly 0" for b-bit LIS (one past the largest b-bit code).
constexpr uint8_t lis_zero_code(int bits) { return static_cast<uint8_t>(1u << bits); }

}  // namespace fqvit
