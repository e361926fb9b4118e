#include "fqvit/numerics/float_kernels.h"

#include "fqvit/core/error.h"
#include "fqvit/numerics/fast_kernels.h"

namespace fqvit {

Numerics parse_numerics(const std::string& text, const std::string& origin, const std::string& field) {
  if (text == "fast") return Numerics::kFast;
  if (text == "torch") return Numerics::kTorch;
  fail(origin, field, "\"" + text + "\"", "fast or torch");
}

std::string to_string(Numerics numerics) { return numerics == Numerics::kTorch ? "torch" : "fast"; }

const FloatKernels& float_kernels(Numerics numerics) {
  return numerics == Numerics::kTorch ? torch_kernels() : fast_kernels();
}

}  // namespace fqvit
