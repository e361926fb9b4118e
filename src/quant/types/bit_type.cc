#include "fqvit/quant/bit_type.h"

namespace fqvit {

std::string BitType::name() const { return (is_signed ? "int" : "uint") + std::to_string(bits); }

bool parse_bit_type(const std::string& name, BitType* out) {
  BitType bt;
  std::string digits;
  if (name.rfind("uint", 0) == 0) {
    bt.is_signed = false;
    digits = name.substr(4);
  } else if (name.rfind("int", 0) == 0) {
    bt.is_signed = true;
    digits = name.substr(3);
  } else {
    return false;
  }
  if (digits.size() != 1 || digits[0] < '0' || digits[0] > '9') return false;
  bt.bits = digits[0] - '0';
  if (!valid_bits(bt.bits)) return false;
  *out = bt;
  return true;
}

}  // namespace fqvit
