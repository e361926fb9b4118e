// The integer plan: an op list over code buffers, one small params struct per op, built once by the lowering
// (include/fqvit/lower/lower.h) and read by the executor. Integers only: every scale is already a
// FixedMultiplier, every weight int8 and packed, every bias int32 on its accumulator's scale.
//
// Buffers hold uint8 codes of one fake-quant point each (uint16 where code_bytes is 2), per image [rows][cols]; the
// batch multiplies rows. Ops
// name the quantizer points their buffers hold (`input_points`, `output_point`), which is how the teacher-forced
// tests feed each op the fake-quant codes of its inputs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops.h"
#include "fqvit/kernels/int_ops_plus.h"
#include "fqvit/kernels/swin_ops.h"

namespace fqvit {

// u8 x s8 -> s32 with the input zero point folded into the bias, requantized per output channel.
struct LinearParams {
  int64_t in = 0, out = 0;
  std::shared_ptr<const PackedWeights> weights;  // [out][in], packed at load
  std::vector<int32_t> bias;                     // [out]: round(b / (s_in s_w)) - zp_in * sum_k w
  std::vector<FixedMultiplier> multiplier;       // [out]: s_in s_w[o] / s_out
  // [out]: round(f * mantissa), f = b / (s_in s_w) - its rounding in `bias`: the bias's fraction of an accumulator
  // unit, which the fake-quant path keeps (its float bias) and an int32 bias alone would drop (fixed_multiplier.h)
  std::vector<int32_t> rounding_offset;
  int32_t zero_point = 0, lo = 0, hi = 255;
  RequantParams requant() const {
    return {multiplier.data(), zero_point, lo, hi, rounding_offset.empty() ? nullptr : rounding_offset.data()};
  }
};

struct PatchEmbedOp {
  PatchInputParams input;
  std::shared_ptr<const PackedWeights> weights;  // [D][C * P * P]
  AccRequantParams requant;
};
struct EmbedOp {
  EmbedParams params;
};
struct LayerNormOp {
  LayerNormParams params;
};
struct LinearOp {
  LinearParams params;
};
struct AttentionOp {
  AttentionParams params;
};
// fc1 and GELU: the accumulators go straight into the GELU tables (the reference does not quantize fc1's output).
struct MlpUpOp {
  LinearParams linear;  // bias folded; no multiplier (the GELU tables requantize: gelu.to_h)
  GeluParams gelu;
};
struct ResidualAddOp {
  ResidualAddParams params;
};
// The classifier on the prefix token(s) of the final LayerNorm's codes: int32 scores per class.
struct HeadOp {
  int64_t tokens = 0, dim = 0;
  LinearParams head;
  LinearParams head_dist;  // DeiT distilled only (weights null otherwise)
  ScoreParams scores;
};

// Swin (kernels/swin_ops.h): token gathers through index maps (shifted-window partition / reverse, patch
// merging), window attention with the relative position bias and the shift mask, the average pool over tokens.
struct RowGatherOp {
  RowGatherParams params;
};
struct SwinAttentionOp {
  SwinAttentionParams params;
};
struct TokenMeanOp {
  TokenMeanParams params;
};

// The fqvit_plus forms (kernels/int_ops_plus.h), emitted only where a quantizer needs them: per-channel zero
// points, per-channel output quantizers, 16-bit stream codes (docs/quantization.md 11.9).
struct EmbedChannelOp {
  EmbedChannelParams params;
};
struct LayerNormWideOp {
  LayerNormWideParams params;
};
// A linear onto a per-channel output quantizer: int32 accumulators, then the per-channel requantization.
struct LinearChannelOp {
  LinearParams linear;  // bias folded; multiplier / zero_point unused
  ChannelRequantParams requant;
};
struct AttentionChannelOp {
  AttentionParams params;  // context_multiplier / out_zero_point unused
  ChannelRequantParams context;
};
struct MlpUpChannelOp {
  LinearParams linear;
  GeluChannelParams gelu;
};
struct ResidualAddChannelOp {
  ResidualAddChannelParams params;
};
// Swin under fqvit_plus: window attention with a per-channel context (its factors folded into proj), the average
// pool onto a per-channel quantizer (folded into the head). A LinearChannelOp may write the 16-bit stream there
// (patch merging's reduction), and a RowGatherOp gathers it (RowGatherParams::code_bytes).
struct SwinAttentionChannelOp {
  SwinAttentionParams params;  // attention.context_multiplier / out_zero_point unused
  ChannelRequantParams context;
};
struct TokenMeanChannelOp {
  TokenMeanChannelParams params;
};

using OpParams =
    std::variant<PatchEmbedOp, EmbedOp, LayerNormOp, LinearOp, AttentionOp, MlpUpOp, ResidualAddOp, HeadOp,
                 RowGatherOp, SwinAttentionOp, TokenMeanOp, EmbedChannelOp, LayerNormWideOp, LinearChannelOp,
                 AttentionChannelOp, MlpUpChannelOp, ResidualAddChannelOp, SwinAttentionChannelOp,
                 TokenMeanChannelOp>;

struct BufferSpec {
  std::string point;  // the fake-quant point whose codes it holds
  int64_t rows = 0, cols = 0;
  int code_bytes = 1;  // 1: uint8 codes; 2: uint16 (the residual stream with "residual_bits" > 8)
};

struct PlanOp {
  std::string name;                       // e.g. "blocks.3.attn.qkv"
  OpParams params;
  std::vector<int> inputs;                // buffer ids (PatchEmbed reads the pixels instead)
  int output = -1;                        // buffer id (HeadOp writes the scores instead)
  std::vector<std::string> input_points;  // fake-quant points of the inputs
  std::string output_point;
};

struct IntPlan {
  std::string architecture;
  int64_t image_size = 0, channels = 3, classes = 0;
  int64_t float_weight_bytes = 0;  // the FP32 model's parameter bytes (4 per weight, bias, token, ...), for reports
  std::vector<BufferSpec> buffers;
  std::vector<PlanOp> ops;
};

// One line per op: kind, name, shapes, bits and multipliers (fqvit-eval --print-plan), then the resident bytes.
std::string describe_plan(const IntPlan& plan);

// What a plan keeps resident for the model's lifetime, by kind (activation buffers are per run, not counted).
struct PlanBytes {
  int64_t weights = 0;    // packed int8 weights, padding included
  int64_t channel = 0;    // per output channel: int32 biases, multipliers, LayerNorm and residual-add parameters
  int64_t tables = 0;     // GELU step and bucket tables, exp tables, pixel tables; Swin's index maps, bias tables
  int64_t constants = 0;  // token and position codes
  int64_t total() const { return weights + channel + tables + constants; }
};
PlanBytes plan_bytes(const IntPlan& plan);

}  // namespace fqvit
