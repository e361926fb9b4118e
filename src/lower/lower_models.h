// The per-family lowerings behind lower_quantized_model (lower.cc): each walks its graph in the fake-quant path's
// order and reads everything from the quantized file itself (lower_ops.h), never from a float graph.
#pragma once

#include <string>

#include "fqvit/io/model_config.h"
#include "fqvit/lower/lower.h"
#include "fqvit/quant/quantized_file.h"

namespace fqvit::lower {

struct LoweringContext {
  const QuantizedFile& file;
  ModelConfig config;         // the stored config.json, with the dimensions the file's tensors fix
  bool int_layer_norm = true; // the file's LayerNorms are the reference's integer form (8-bit M, no epsilon)
  bool wide_layer_norm = false;  // ... in its wide form (fqvit_plus: Extensions::wide_layer_norm, as fake quant)
  std::string origin;         // names the file in errors
};

LoweredModel lower_vit(const LoweringContext& context);
LoweredModel lower_swin(const LoweringContext& context);

}  // namespace fqvit::lower
