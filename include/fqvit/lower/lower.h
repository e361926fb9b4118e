// The lowering: the one float -> integer border. It reads a quantized model file (docs/format.md) through
// read_quantized_file (codes, scales and quantizer records as stored: no float graph is built) and builds the
// integer plan (include/fqvit/int_exec/plan.h): int8 weights packed once, int32 biases on each accumulator's
// scale, FixedMultipliers for every requantization, lookup and threshold tables. Everything the kernels cannot
// run exactly is refused here with one line (file, field, found, expected), never run approximately.
#pragma once

#include <memory>
#include <string>

#include "fqvit/int_exec/plan.h"
#include "fqvit/io/model_config.h"
#include "fqvit/quant/quantized_file.h"
#include "fqvit/quant/fixed_multiplier.h"

namespace fqvit {

struct LoweredModel {
  std::shared_ptr<const IntPlan> plan;
  ModelConfig config;
  double score_scale = 1.0;  // real logit = score * score_scale (reports and --save-logits; the executor never
                             // sees it)
};

// Throws Error naming `path` for a file the integer kernels cannot run (see docs/format.md, integer executor).
LoweredModel lower_quantized_model(const std::string& path);
// The same from a file already read; `origin` names it in errors.
LoweredModel lower_quantized_model(const QuantizedFile& file, const std::string& origin);

// real = mantissa_q31 * 2^(exponent - 31), mantissa rounded to nearest (|mantissa| in [2^30, 2^31)); 0 -> {0, 0}.
// Throws Error (origin, field, the value, the representable range) for a non-finite value or one whose exponent
// falls outside [-31, 30].
FixedMultiplier fixed_multiplier_from_real(double real, const std::string& origin, const std::string& field);
// real on a given exponent (a pair of multipliers that must share one): mantissa = round(real * 2^(31 - exponent)),
// which must fit int32. Throws Error as above.
FixedMultiplier fixed_multiplier_with_exponent(double real, int32_t exponent, const std::string& origin,
                                               const std::string& field);

}  // namespace fqvit
