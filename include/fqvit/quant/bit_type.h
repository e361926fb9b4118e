// Integer code ranges of the quantizers: a BitType is a bit-width (2..8) and a signedness, giving the closed code
// range [lo, hi] (signed: [-2^(b-1), 2^(b-1) - 1], unsigned: [0, 2^b - 1]), as the reference's BitType.
#pragma once

#include <cstdint>
#include <string>

namespace fqvit {

constexpr int kMinBits = 2;
constexpr int kMaxBits = 8;

struct BitType {
  int bits = 8;
  bool is_signed = false;

  constexpr int32_t lo() const { return is_signed ? -(int32_t{1} << (bits - 1)) : 0; }
  constexpr int32_t hi() const { return is_signed ? (int32_t{1} << (bits - 1)) - 1 : (int32_t{1} << bits) - 1; }
  // "int8", "uint4", ...
  std::string name() const;
  bool operator==(const BitType&) const = default;
};

constexpr BitType kInt8{8, true};
constexpr BitType kUint8{8, false};
constexpr BitType kUint4{4, false};

// True for bits in [kMinBits, kMaxBits].
constexpr bool valid_bits(int bits) { return bits >= kMinBits && bits <= kMaxBits; }

// Activation codes may be wider than weights: the residual stream can carry int16 codes (the fqvit_plus wide
// residual extension, docs/quantization.md 11.3). Weights stay within kMaxBits (they are stored as I8).
constexpr int kMaxActivationBits = 16;
constexpr bool valid_activation_bits(int bits) { return bits >= kMinBits && bits <= kMaxActivationBits; }

// Parses "int8" / "uint4" / ...; returns false for anything else or bits outside 2..8.
bool parse_bit_type(const std::string& name, BitType* out);

}  // namespace fqvit
