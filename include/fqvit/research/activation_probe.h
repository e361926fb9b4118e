// What fqvit-inspect looks at inside a forward pass: the channel-wise range of every LayerNorm input (the
// inter-channel variation PTF exists for) and one attention map, in FP32 or under a fake-quant state.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fqvit/calibrate/quant_state.h"
#include "fqvit/core/tensor.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {

struct ChannelRange {
  std::string point;  // the LayerNorm input's quantizer point ("blocks.3.qact2")
  std::vector<float> min, max;  // per channel, over every token of every image
};

// Per-channel min / max at every residual (LayerNorm input) point of `model`'s FP32 pass over `images`.
std::vector<ChannelRange> layer_norm_input_ranges(const VisionModel& model, const Tensor& images);

// The attention probabilities (softmax output) at `point` ("blocks.5.attn.log_int_softmax") for `image`
// [1, C, S, S]: rows x cols with rows = maps * cols (one square map per head, and per window for Swin). With
// `state`, the model runs in fake quantization (uniform or LIS attention, as the state says); without, in FP32.
struct AttentionMaps {
  std::string point;
  int64_t maps = 0;  // square maps of size tokens x tokens, head-major within the first image / window
  int64_t tokens = 0;
  std::vector<float> probabilities;  // maps * tokens * tokens
};
AttentionMaps capture_attention(const VisionModel& model, const QuantState* state, const Tensor& image,
                                const std::string& point);

// The attention (softmax) points of a model, in dataflow order.
std::vector<std::string> attention_points(const VisionModel& model);
// Heads of the attention at `point` (ViT: num_heads; Swin: the stage's heads).
int attention_heads(const ModelConfig& config, const std::string& point);

}  // namespace fqvit
