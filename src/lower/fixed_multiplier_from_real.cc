// FixedMultiplier from a real multiplier (the float side of quant/fixed_multiplier.h).
#include <cmath>
#include <sstream>

#include "fqvit/core/error.h"
#include "fqvit/lower/lower.h"

namespace fqvit {
namespace {

std::string text(double v) {
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

}  // namespace

FixedMultiplier fixed_multiplier_from_real(double real, const std::string& origin, const std::string& field) {
  if (!std::isfinite(real)) fail(origin, field, text(real), "a finite multiplier");
  if (real == 0.0) return {};
  int e = 0;
  const double f = std::frexp(real, &e);  // real = f 2^e, |f| in [0.5, 1)
  auto mantissa = static_cast<int64_t>(std::llround(std::ldexp(f, 31)));
  if (mantissa == (int64_t{1} << 31) || mantissa == -(int64_t{1} << 31)) mantissa /= 2, ++e;
  if (e < -31 || e > 30) {
    fail(origin, field, text(real), "a multiplier within 2^-32 .. 2^30 in magnitude (FixedMultiplier exponent -31..30)");
  }
  return {static_cast<int32_t>(mantissa), e};
}

FixedMultiplier fixed_multiplier_with_exponent(double real, int32_t exponent, const std::string& origin,
                                               const std::string& field) {
  if (!std::isfinite(real)) fail(origin, field, text(real), "a finite multiplier");
  if (exponent < -31 || exponent > 30) fail(origin, field, "exponent " + std::to_string(exponent), "-31..30");
  const double m = std::nearbyint(std::ldexp(real, 31 - exponent));
  if (std::fabs(m) >= 2147483648.0) {
    fail(origin, field, text(real), "below 2^" + std::to_string(exponent) + " to share that exponent");
  }
  return {static_cast<int32_t>(m), exponent};
}

}  // namespace fqvit
