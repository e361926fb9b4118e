// Log-Int-Softmax parameters (library fqvit_quant_types); the method is described in log_int_softmax.h and
// docs/quantization.md. Codes k in 0..2^b-1 mean 2^-k; lis_zero_code(b) = 2^b means "exactly zero".
#pragma once

#include <cstdint>

namespace fqvit {

struct LisParams {
  int bits = 4;        // b: codes 0..2^b - 1
  int exp_shift = 30;  // n of i-exp (reference: 30; integer-safe: 20)
  // Extension "lis_logits": "refined" (docs/quantization.md 11.11): i-exp runs on the logit codes times 2^m, i.e. on
  // the finer scale S 2^-m (m = lis_logit_shift(S, p), log_int_softmax.h); false: the reference's i-exp on S.
  bool refine_logits = false;
};

constexpr int kLisReferenceShift = 30;

// The code meaning "attention weight exactly 0" for b-bit LIS (one past the largest b-bit code).
constexpr uint8_t lis_zero_code(int bits) { return static_cast<uint8_t>(1u << bits); }

}  // namespace fqvit
