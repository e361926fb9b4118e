// Builders of the integer ops' params from quantizers and float tensors (the float side of the border).
#pragma once

#include <string>
#include <vector>

#include "fqvit/core/tensor.h"
#include "fqvit/int_exec/plan.h"
#include "fqvit/io/model_config.h"
#include "fqvit/quant/qparams.h"
#include "fqvit/quant/quantized_file.h"
#include "fqvit/quant/quantizer_record.h"

namespace fqvit::lower {

// An activation quantizer as the integer ops see it: codes in [lo, hi], real = scale[c] * (q - zero_point), one
// scale (per tensor) or one per channel (PTF, with its exponents).
struct ActQuant {
  std::string point;
  std::string kind;               // uniform | ptf | lis
  std::vector<double> scale;      // the float32 scales as the fake-quant path uses them
  std::vector<uint8_t> alpha;     // ptf
  int32_t zero_point = 0, lo = 0, hi = 255;
  int bits = 8;
  int exp_shift = 30;             // lis
  bool refine_logits = false;     // lis: "lis_logits": "refined" (i-exp on the logit codes times 2^m)
  QParams qparams() const;        // uniform only
  double channel_scale(int64_t c) const { return scale.size() == 1 ? scale[0] : scale[static_cast<size_t>(c)]; }
  std::vector<int32_t> zero_points;  // ptf with per-channel zero points (fqvit_plus), else empty
  int32_t channel_zero_point(int64_t c) const {
    return zero_points.empty() ? zero_point : zero_points[static_cast<size_t>(c)];
  }
  bool per_channel() const { return scale.size() > 1; }
  // Needs the fqvit_plus kernels: per-channel zero points or codes wider than uint8.
  bool needs_channel_ops() const { return !zero_points.empty() || hi > 255; }
  int code_bytes() const { return hi > 255 ? 2 : 1; }
  // The scale of a GEMM's input codes when its factors 2^alpha_c are folded into the weight columns: s1 (alpha 0).
  double folded_scale() const;
};

// The quantizer stored at `point` as the integer ops see it. Throws Error (origin, field
// quantizers.activations.<point>[.<field>], found, expected) for an unknown kind, a code range the kernels cannot
// hold (signed, or wider than max_bits: 8, or 16 for the residual stream, whose buffers may hold uint16 codes), a
// missing or empty parameter, a scale that is not finite and positive, a zero point outside the code range, or PTF
// exponents above kPtfMaxK.
ActQuant act_quant(const QuantizerRecord& record, const std::string& point, const std::string& origin,
                   int max_bits = 8);
// The same, looked up in the file's quantizers (a missing point is an Error too).
ActQuant act_quant(const QuantizedFile& file, const std::string& point, const std::string& origin, int max_bits = 8);

// Weight codes [out][in] of a weight-quantized layer (weight = scale[o] * code) and its scales.
struct WeightCodes {
  std::string name;
  int64_t out = 0, in = 0;
  std::vector<int8_t> codes;
  std::vector<double> scale;
  std::vector<float> bias;  // [out], empty without a bias
  std::vector<int32_t> input_exponent;  // factors 2^e[k] folded into the columns (fqvit_plus), else empty
};
// The codes of module `name` (e.g. "blocks.0.attn.qkv"), whose tensor must have `shape`, and its float bias
// tensor `bias` ([out]; empty name: none), with its folded input exponents when it has them (fqvit_plus). Throws
// Error (origin, field, found, expected) for a missing weight or bias, another shape, codes wider than int8, a
// scale that is not finite and positive, or a non-finite bias.
WeightCodes weight_codes(const QuantizedFile& file, const std::string& name, const Shape& shape,
                         const std::string& bias, const std::string& origin);
// A float tensor the plan folds (tokens, position embedding, LayerNorm parameters), of `shape` and finite.
Tensor float_tensor(const QuantizedFile& file, const std::string& name, const Shape& shape, const std::string& origin);

// The patch embedding: pixels -> patch rows -> int8 GEMM -> codes of `out`. `input` is the qact_input quantizer
// (DeiT / Swin: Normalize and the quantizer folded into per-channel pixel tables), or null (ViT: the pixel itself,
// Normalize folded into the bias with 2^gain_shift extra precision).
PatchEmbedOp patch_embed_op(const WeightCodes& w, const ModelConfig& cfg, const ActQuant* input, const ActQuant& out,
                            const std::string& origin);

// Linear from input quantizer `in` to output quantizer `out`. `in` per tensor, or per channel with its factors folded
// into w's columns (checked: w.input_exponent == in.alpha) and its zero points folded into the bias; `out` per tensor
// or per output channel (a PTF output such as Swin's patch-merging reduction; one multiplier per output either way;
// the zero point is out.zero_point: per-channel zero points need channel_requant).
// out_bits: the widest output codes the caller's kernel writes (8: LinearOp's uint8; 16: a LinearChannelOp onto the
// 16-bit residual stream, Swin's patch-merging reduction).
LinearParams linear_params(const WeightCodes& w, const ActQuant& in, const ActQuant& out, const std::string& origin,
                           int out_bits = 8);
// The per-channel output requantization of a linear onto `out` (multipliers of p, zero points of out).
ChannelRequantParams channel_requant(const LinearParams& p, const ActQuant& out);
// The fqvit_plus forms (kernels/int_ops_plus.h).
ResidualAddChannelParams residual_add_channel_params(const ActQuant& a, const ActQuant& b, const ActQuant& out,
                                                     int64_t channels, const std::string& origin,
                                                     const std::string& field);
LayerNormWideParams layer_norm_wide_params(const ActQuant& in, const ActQuant& out, const Tensor& gamma,
                                           const Tensor& beta, const std::string& origin);
GeluChannelParams gelu_channel_params(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out,
                                      const std::string& origin);
ChannelRequantParams context_requant(const ActQuant& qkv, const ActQuant& probs, const ActQuant& out,
                                     const std::string& origin);
// Residual add of a (per tensor or channel) and b onto out (per channel), C channels.
ResidualAddParams residual_add_params(const ActQuant& a, const ActQuant& b, const ActQuant& out, int64_t channels,
                                      const std::string& origin, const std::string& field);
// Integer LayerNorm from input quantizer `in` to `out`; `reference_int` picks the reference's dyadic 8-bit M and no
// epsilon (files calibrated with its integer LayerNorm), else a 24-bit M with eps folded in (float LayerNorm files).
LayerNormParams layer_norm_params(const ActQuant& in, const ActQuant& out, const Tensor& gamma, const Tensor& beta,
                                  bool reference_int, double eps, const std::string& origin);
// Attention of one block.
AttentionParams attention_params(const ActQuant& qkv, const ActQuant& logits, const ActQuant& probs,
                                 const ActQuant& out, int64_t tokens, int64_t heads, int64_t head_dim,
                                 const std::string& origin);
// GELU tables for fc1 (its weight and input) into `out`.
GeluParams gelu_params(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out, const std::string& origin);
// The FP32 model's parameter bytes: 4 per weight code and per element of the file's float tensors.
int64_t float_model_bytes(const QuantizedFile& file);
// Releases the spare capacity of every vector in `params` (push_back leaves up to 2x): the plan is built once and
// kept for the model's lifetime, so its resident bytes are its sizes (int_exec/plan.h: plan_bytes).
void shrink_to_fit(OpParams& params);
// Appends op `name` (its params shrunk to fit) reading buffers `inputs`, writing buffer `output` (-1: the scores),
// with the buffers' point names: the one way both lowerings add an op to a plan.
void emit_op(IntPlan& plan, std::string name, OpParams params, std::vector<int> inputs, int output);
// Codes of a float tensor under a per-tensor quantizer (the fake-quant arithmetic, bit for bit).
std::vector<uint8_t> constant_codes(const float* x, int64_t n, const ActQuant& q);
// The i-exp constants of logit scale s (float32, as the reference), with the largest shift n <= max_n for which
// c 2^n stays below 2^31.
IntExpParams int_exp_params(double logit_scale, int max_n);

}  // namespace fqvit::lower
