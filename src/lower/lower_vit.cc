// Lowering of a ViT / DeiT quantized model file: walks the graph in the fake-quant path's order (the same points,
// model/vit_model.cc) and emits one op per step, reading codes, scales and float tensors from the file itself.
#include <cmath>
#include <sstream>

#include "fqvit/core/error.h"
#include "fqvit/model/vit_names.h"
#include "lower/lower_models.h"
#include "lower/lower_ops.h"

namespace fqvit::lower {
namespace {

class VitLowering {
 public:
  explicit VitLowering(const LoweringContext& c) : file_(c.file), cfg_(c.config), int_ln_(c.int_layer_norm),
                                                   wide_ln_(c.wide_layer_norm), origin_(c.origin) {}

  LoweredModel run();

 private:
  // A quantizer point's parameters, named by the point table (vit_names.h).
  ActQuant act(VitPoint point, int block = -1) const { return act_quant(file_, vit_point_name(point, block), origin_); }
  // A residual stream point: its codes may be up to 16 bits wide ("residual_bits").
  ActQuant stream(VitPoint point, int block = -1) const {
    return act_quant(file_, vit_point_name(point, block), origin_, 16);
  }
  // The codes of a linear (its weight [out, in...], named by the tensor table, and the bias beside it) from the file.
  WeightCodes weights(VitTensor weight, const Shape& shape, int block = -1) const {
    const std::string name = vit_tensor_name(weight, block);
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    return weight_codes(file_, module, shape, module + ".bias", origin_);
  }
  Tensor tensor(VitTensor t, const Shape& shape, int block = -1) const {
    return float_tensor(file_, vit_tensor_name(t, block), shape, origin_);
  }
  int buffer(VitPoint point, int block, int64_t rows, int64_t cols, int code_bytes = 1) {
    plan_->buffers.push_back({vit_point_name(point, block), rows, cols, code_bytes});
    return static_cast<int>(plan_->buffers.size()) - 1;
  }
  void emit(std::string name, OpParams params, std::vector<int> inputs, int output) {
    emit_op(*plan_, std::move(name), std::move(params), std::move(inputs), output);
  }
  PatchEmbedOp patch_embed(const ActQuant& out) const;
  // Each op in the paper's form where its quantizers allow, in the fqvit_plus form (int_ops_plus.h) otherwise.
  OpParams layer_norm(const ActQuant& in, const ActQuant& out, VitTensor gamma, VitTensor beta, int block = -1) const;
  OpParams linear(VitTensor weight, const Shape& shape, int block, const ActQuant& in, const ActQuant& out) const;
  OpParams residual_add(const ActQuant& a, const ActQuant& b, const ActQuant& out, int64_t d,
                        const std::string& field) const;
  OpParams attention(const ActQuant& qkv, const ActQuant& logits, const ActQuant& probs, const ActQuant& out,
                     int64_t tokens, int64_t heads, int64_t head_dim) const;
  OpParams mlp_up(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out) const;

  const QuantizedFile& file_;
  const ModelConfig& cfg_;
  bool int_ln_, wide_ln_;
  std::string origin_;
  std::shared_ptr<IntPlan> plan_ = std::make_shared<IntPlan>();
};

PatchEmbedOp VitLowering::patch_embed(const ActQuant& out) const {
  const int64_t p = cfg_.patch_size;
  const WeightCodes w = weights(VitTensor::kPatchWeight, {cfg_.embed_dim, cfg_.in_chans, p, p});
  if (!cfg_.quantize_input) return patch_embed_op(w, cfg_, nullptr, out, origin_);
  const ActQuant in = act(VitPoint::kInput);
  return patch_embed_op(w, cfg_, &in, out, origin_);
}

OpParams VitLowering::layer_norm(const ActQuant& in, const ActQuant& out, VitTensor gamma, VitTensor beta,
                                 int block) const {
  const Shape shape{cfg_.embed_dim};
  const Tensor g = tensor(gamma, shape, block), b = tensor(beta, shape, block);
  // The emulation's own switch (calibrate/hooks.cc): the wide LayerNorm whenever the extensions leave the
  // reference's arithmetic or the output has per-channel factors.
  if (int_ln_ && (wide_ln_ || out.per_channel())) {
    return LayerNormWideOp{layer_norm_wide_params(in, out, g, b, origin_)};
  }
  if (in.needs_channel_ops()) {
    fail(origin_, "quantizers.activations." + in.point, "per-channel zero points or wide codes",
         "the integer LayerNorm of the extensions (quantization.int_layer_norm true)");
  }
  return LayerNormOp{layer_norm_params(in, out, g, b, int_ln_, static_cast<double>(cfg_.norm_eps), origin_)};
}

OpParams VitLowering::linear(VitTensor weight, const Shape& shape, int block, const ActQuant& in,
                             const ActQuant& out) const {
  LinearParams p = linear_params(weights(weight, shape, block), in, out, origin_);
  if (!out.needs_channel_ops()) return LinearOp{std::move(p)};
  ChannelRequantParams rq = channel_requant(p, out);
  return LinearChannelOp{std::move(p), std::move(rq)};
}

OpParams VitLowering::residual_add(const ActQuant& a, const ActQuant& b, const ActQuant& out, int64_t d,
                                   const std::string& field) const {
  if (!a.needs_channel_ops() && !b.needs_channel_ops() && !out.needs_channel_ops()) {
    return ResidualAddOp{residual_add_params(a, b, out, d, origin_, field)};
  }
  return ResidualAddChannelOp{residual_add_channel_params(a, b, out, d, origin_, field)};
}

OpParams VitLowering::attention(const ActQuant& qkv, const ActQuant& logits, const ActQuant& probs,
                                const ActQuant& out, int64_t tokens, int64_t heads, int64_t head_dim) const {
  ActQuant per_tensor = out;  // attention_params reads one output scale; the per-channel requant replaces it
  per_tensor.scale.resize(1), per_tensor.zero_points.clear();
  AttentionParams p = attention_params(qkv, logits, probs, per_tensor, tokens, heads, head_dim, origin_);
  if (!out.per_channel() && !out.needs_channel_ops()) return AttentionOp{std::move(p)};
  return AttentionChannelOp{std::move(p), context_requant(qkv, probs, out, origin_)};
}

OpParams VitLowering::mlp_up(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out) const {
  ActQuant per_tensor = out;  // the fc1 accumulators go to the GELU tables; the LinearParams multiplier is unused
  per_tensor.scale.resize(1), per_tensor.zero_points.clear();
  LinearParams l = linear_params(fc1, in, per_tensor, origin_);
  l.multiplier.clear();  // the GELU tables requantize (gelu.to_h): not kept twice
  l.rounding_offset.clear();
  if (!out.per_channel() && !out.needs_channel_ops()) return MlpUpOp{std::move(l), gelu_params(fc1, in, out, origin_)};
  return MlpUpChannelOp{std::move(l), gelu_channel_params(fc1, in, out, origin_)};
}

LoweredModel VitLowering::run() {
  const int64_t d = cfg_.embed_dim, prefix = cfg_.distilled ? 2 : 1, grid = cfg_.img_size / cfg_.patch_size;
  const int64_t patches = grid * grid, tokens = prefix + patches, heads = cfg_.num_heads, dh = d / heads;
  const int64_t hidden = file_.file.info(vit_tensor_name(VitTensor::kFc1Weight, 0)).shape[0];
  plan_->architecture = cfg_.architecture;
  plan_->image_size = cfg_.img_size;
  plan_->channels = cfg_.in_chans;
  plan_->classes = cfg_.num_classes;
  plan_->float_weight_bytes = float_model_bytes(file_);

  const ActQuant patch_q = act(VitPoint::kPatchEmbed);
  const int patch_buf = buffer(VitPoint::kPatchEmbed, -1, patches, d);
  emit("patch_embed", patch_embed(patch_q), {}, patch_buf);

  const ActQuant embed_q = act(VitPoint::kClsEmbed), pos_q = act(VitPoint::kPosEmbed);
  ActQuant resid_q = stream(VitPoint::kTokens);
  EmbedChannelParams e;
  e.prefix = prefix, e.patches = patches, e.dim = d;
  e.prefix_codes = constant_codes(tensor(VitTensor::kClsToken, {1, 1, d}).data(), d, embed_q);
  if (cfg_.distilled) {
    const auto dist = constant_codes(tensor(VitTensor::kDistToken, {1, 1, d}).data(), d, embed_q);
    e.prefix_codes.insert(e.prefix_codes.end(), dist.begin(), dist.end());
  }
  e.patch_to_embed = {patch_q.zero_point,
                      fixed_multiplier_from_real(patch_q.scale[0] / embed_q.scale[0], origin_, "qact_embed rescale"),
                      embed_q.zero_point, embed_q.lo, embed_q.hi};
  e.pos_codes = constant_codes(tensor(VitTensor::kPosEmbed, {1, tokens, d}).data(), tokens * d, pos_q);
  int x = buffer(VitPoint::kTokens, -1, tokens, d, resid_q.code_bytes());
  if (resid_q.needs_channel_ops()) {
    e.add_pos = residual_add_channel_params(embed_q, pos_q, resid_q, d, origin_, "qact1 residual multipliers");
    emit("embed", EmbedChannelOp{std::move(e)}, {patch_buf}, x);
  } else {
    EmbedOp embed{{e.prefix, e.patches, e.dim, std::move(e.prefix_codes), e.patch_to_embed, std::move(e.pos_codes),
                   residual_add_params(embed_q, pos_q, resid_q, d, origin_, "qact1 residual multipliers")}};
    emit("embed", std::move(embed), {patch_buf}, x);
  }

  for (int i = 0; i < cfg_.depth; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    const ActQuant n1 = act(VitPoint::kNorm1, i), qkv_q = act(VitPoint::kQkv, i), logit_q = act(VitPoint::kScores, i),
                   prob_q = act(VitPoint::kSoftmax, i), ctx_q = act(VitPoint::kContext, i),
                   proj_q = act(VitPoint::kProj, i), r2 = stream(VitPoint::kResidual1, i),
                   n2 = act(VitPoint::kNorm2, i), gelu_q = act(VitPoint::kFc1, i), fc2_q = act(VitPoint::kFc2, i),
                   r4 = stream(VitPoint::kResidual2, i);

    const int h1 = buffer(VitPoint::kNorm1, i, tokens, d);
    emit(p + "norm1", layer_norm(resid_q, n1, VitTensor::kNorm1Weight, VitTensor::kNorm1Bias, i), {x}, h1);
    const int qkv = buffer(VitPoint::kQkv, i, tokens, 3 * d);
    emit(p + "attn.qkv", linear(VitTensor::kQkvWeight, {3 * d, d}, i, n1, qkv_q), {h1}, qkv);
    const int ctx = buffer(VitPoint::kContext, i, tokens, d);
    emit(p + "attn", attention(qkv_q, logit_q, prob_q, ctx_q, tokens, heads, dh), {qkv}, ctx);
    const int proj = buffer(VitPoint::kProj, i, tokens, d);
    emit(p + "attn.proj", linear(VitTensor::kProjWeight, {d, d}, i, ctx_q, proj_q), {ctx}, proj);
    const int x2 = buffer(VitPoint::kResidual1, i, tokens, d, r2.code_bytes());
    emit(p + "add1", residual_add(resid_q, proj_q, r2, d, p + "qact2 multipliers"), {x, proj}, x2);

    const int h2 = buffer(VitPoint::kNorm2, i, tokens, d);
    emit(p + "norm2", layer_norm(r2, n2, VitTensor::kNorm2Weight, VitTensor::kNorm2Bias, i), {x2}, h2);
    const WeightCodes fc1 = weights(VitTensor::kFc1Weight, {hidden, d}, i);
    const int mid = buffer(VitPoint::kFc1, i, tokens, fc1.out);
    emit(p + "mlp.fc1+gelu", mlp_up(fc1, n2, gelu_q), {h2}, mid);
    const int fc2 = buffer(VitPoint::kFc2, i, tokens, d);
    emit(p + "mlp.fc2", linear(VitTensor::kFc2Weight, {d, hidden}, i, gelu_q, fc2_q), {mid}, fc2);
    const int x4 = buffer(VitPoint::kResidual2, i, tokens, d, r4.code_bytes());
    emit(p + "add2", residual_add(r2, fc2_q, r4, d, p + "qact4 multipliers"), {x2, fc2}, x4);
    x = x4;
    resid_q = r4;
  }

  const ActQuant final_q = act(VitPoint::kFinalNorm);
  const int feats = buffer(VitPoint::kFinalNorm, -1, tokens, d);
  emit("norm", layer_norm(resid_q, final_q, VitTensor::kNormWeight, VitTensor::kNormBias), {x}, feats);

  HeadOp head;
  head.tokens = tokens, head.dim = d;
  const ActQuant out_a = act(VitPoint::kLogits);
  head.head = linear_params(weights(VitTensor::kHeadWeight, {cfg_.num_classes, d}), final_q, out_a, origin_);
  head.scores.a_zero_point = out_a.zero_point;
  double score_scale = out_a.scale[0];
  if (cfg_.distilled) {
    const ActQuant out_b = act(VitPoint::kLogitsDist);
    head.head_dist = linear_params(weights(VitTensor::kHeadDistWeight, {cfg_.num_classes, d}), final_q, out_b, origin_);
    head.scores.two_heads = true;
    head.scores.b_zero_point = out_b.zero_point;
    // score = (s_a (a - zp_a) + s_b (b - zp_b)) / (2 s), s = max(s_a, s_b) 2^-16: |score| < 2^25.
    score_scale = std::max(out_a.scale[0], out_b.scale[0]) / 65536.0;
    const double ra = out_a.scale[0] / (2 * score_scale), rb = out_b.scale[0] / (2 * score_scale);
    const FixedMultiplier big = fixed_multiplier_from_real(std::max(ra, rb), origin_, "act_out score multipliers");
    head.scores.a_multiplier = fixed_multiplier_with_exponent(ra, big.exponent, origin_, "act_out score multiplier");
    head.scores.b_multiplier = fixed_multiplier_with_exponent(rb, big.exponent, origin_, "act_out_dist score multiplier");
  }
  emit("head", std::move(head), {feats}, -1);

  LoweredModel out;
  out.plan = plan_;
  out.config = cfg_;
  out.score_scale = score_scale;
  return out;
}

}  // namespace

LoweredModel lower_vit(const LoweringContext& context) { return VitLowering(context).run(); }

}  // namespace fqvit::lower
