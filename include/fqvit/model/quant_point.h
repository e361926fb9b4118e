// A quantizer point of a graph: where FQ-ViT quantizes an activation, named as FQ-ViT's modules are (the names in a
// quantized file). Each family's table (vit_names.h, swin_names.h) lists its points in dataflow order with their
// role, the op that produces the quantized value and its inputs; the graphs, the calibration plan and the lowering
// read them there instead of spelling the names out.
#pragma once

#include <string>

namespace fqvit {

// kResidual: the residual stream (PTF's per-channel factors apply); kAttention: a softmax output (LIS's point).
enum class QuantRole { kWeight, kActivation, kResidual, kAttention };

struct QuantPoint {
  std::string name;      // e.g. "blocks.3.attn.qact1"
  QuantRole role;
  const char* producer;  // the op whose output is quantized here
  const char* inputs;    // what that op reads
};

// The role of a point of either family from its name alone; kActivation for a name no table has.
QuantRole quant_point_role(const std::string& name);

}  // namespace fqvit
