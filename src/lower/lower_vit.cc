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
                                                   origin_(c.origin) {}

  LoweredModel run();

 private:
  // A quantizer point's parameters, named by the point table (vit_names.h).
  ActQuant act(VitPoint point, int block = -1) const { return act_quant(file_, vit_point_name(point, block), origin_); }
  // The codes of a linear (its weight [out, in...], named by the tensor table, and the bias beside it) from the file.
  WeightCodes weights(VitTensor weight, const Shape& shape, int block = -1) const {
    const std::string name = vit_tensor_name(weight, block);
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    return weight_codes(file_, module, shape, module + ".bias", origin_);
  }
  Tensor tensor(VitTensor t, const Shape& shape, int block = -1) const {
    return float_tensor(file_, vit_tensor_name(t, block), shape, origin_);
  }
  int buffer(VitPoint point, int block, int64_t rows, int64_t cols) {
    plan_->buffers.push_back({vit_point_name(point, block), rows, cols});
    return static_cast<int>(plan_->buffers.size()) - 1;
  }
  void emit(std::string name, OpParams params, std::vector<int> inputs, int output) {
    shrink_to_fit(params);
    PlanOp op{std::move(name), std::move(params), std::move(inputs), output, {}, {}};
    for (int id : op.inputs) op.input_points.push_back(plan_->buffers[static_cast<size_t>(id)].point);
    op.output_point = output >= 0 ? plan_->buffers[static_cast<size_t>(output)].point : "scores";
    plan_->ops.push_back(std::move(op));
  }
  PatchEmbedOp patch_embed(const ActQuant& out) const;
  LayerNormOp layer_norm(const ActQuant& in, const ActQuant& out, VitTensor gamma, VitTensor beta,
                         int block = -1) const {
    const Shape shape{cfg_.embed_dim};
    return {layer_norm_params(in, out, tensor(gamma, shape, block), tensor(beta, shape, block), int_ln_,
                              static_cast<double>(cfg_.norm_eps), origin_)};
  }

  const QuantizedFile& file_;
  const ModelConfig& cfg_;
  bool int_ln_;
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
  ActQuant resid_q = act(VitPoint::kTokens);
  EmbedOp embed;
  EmbedParams& e = embed.params;
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
  e.add_pos = residual_add_params(embed_q, pos_q, resid_q, d, origin_, "qact1 residual multipliers");
  int x = buffer(VitPoint::kTokens, -1, tokens, d);
  emit("embed", std::move(embed), {patch_buf}, x);

  for (int i = 0; i < cfg_.depth; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    const ActQuant n1 = act(VitPoint::kNorm1, i), qkv_q = act(VitPoint::kQkv, i), logit_q = act(VitPoint::kScores, i),
                   prob_q = act(VitPoint::kSoftmax, i), ctx_q = act(VitPoint::kContext, i),
                   proj_q = act(VitPoint::kProj, i), r2 = act(VitPoint::kResidual1, i), n2 = act(VitPoint::kNorm2, i),
                   gelu_q = act(VitPoint::kFc1, i), fc2_q = act(VitPoint::kFc2, i), r4 = act(VitPoint::kResidual2, i);

    const int h1 = buffer(VitPoint::kNorm1, i, tokens, d);
    emit(p + "norm1", layer_norm(resid_q, n1, VitTensor::kNorm1Weight, VitTensor::kNorm1Bias, i), {x}, h1);
    const int qkv = buffer(VitPoint::kQkv, i, tokens, 3 * d);
    const WeightCodes qkv_w = weights(VitTensor::kQkvWeight, {3 * d, d}, i);
    emit(p + "attn.qkv", LinearOp{linear_params(qkv_w, n1, qkv_q, origin_)}, {h1}, qkv);
    const int ctx = buffer(VitPoint::kContext, i, tokens, d);
    emit(p + "attn", AttentionOp{attention_params(qkv_q, logit_q, prob_q, ctx_q, tokens, heads, dh, origin_)},
         {qkv}, ctx);
    const int proj = buffer(VitPoint::kProj, i, tokens, d);
    const WeightCodes proj_w = weights(VitTensor::kProjWeight, {d, d}, i);
    emit(p + "attn.proj", LinearOp{linear_params(proj_w, ctx_q, proj_q, origin_)}, {ctx}, proj);
    const int x2 = buffer(VitPoint::kResidual1, i, tokens, d);
    emit(p + "add1", ResidualAddOp{residual_add_params(resid_q, proj_q, r2, d, origin_, p + "qact2 multipliers")},
         {x, proj}, x2);

    const int h2 = buffer(VitPoint::kNorm2, i, tokens, d);
    emit(p + "norm2", layer_norm(r2, n2, VitTensor::kNorm2Weight, VitTensor::kNorm2Bias, i), {x2}, h2);
    const WeightCodes fc1 = weights(VitTensor::kFc1Weight, {hidden, d}, i);
    MlpUpOp up{linear_params(fc1, n2, gelu_q, origin_), gelu_params(fc1, n2, gelu_q, origin_)};
    up.linear.multiplier.clear();  // the GELU tables requantize (gelu.to_h): not kept twice
    up.linear.rounding_offset.clear();
    const int mid = buffer(VitPoint::kFc1, i, tokens, fc1.out);
    emit(p + "mlp.fc1+gelu", std::move(up), {h2}, mid);
    const int fc2 = buffer(VitPoint::kFc2, i, tokens, d);
    const WeightCodes fc2_w = weights(VitTensor::kFc2Weight, {d, hidden}, i);
    emit(p + "mlp.fc2", LinearOp{linear_params(fc2_w, gelu_q, fc2_q, origin_)}, {mid}, fc2);
    const int x4 = buffer(VitPoint::kResidual2, i, tokens, d);
    emit(p + "add2", ResidualAddOp{residual_add_params(r2, fc2_q, r4, d, origin_, p + "qact4 multipliers")},
         {x2, fc2}, x4);
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
