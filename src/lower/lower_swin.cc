// Lowering of a Swin quantized model file: walks the graph in the fake-quant path's order (model/swin_forward.cc,
// the point table in model/swin_model.cc) and emits one op per step, reading codes, scales and float tensors from
// the file itself (its stage geometry from the tensor shapes, as SwinModel::load does). The window machinery becomes
// index maps (gathers of token rows) and tables built here; docs/quantization.md section 10.2.1 states the
// arithmetic.
//
// Buffers hold a point's codes in the row order the fake-quant path holds them: the residual stream and the
// LayerNorm outputs in grid order, qkv / context / proj in window order. A gathered buffer names its point with
// the order it is in after "@" ("...qact1@windows", "...attn.qact4@grid", "...qact4@merge2x2"): the same codes,
// moved.
//
// fqvit_plus (docs/quantization.md 11.9): each op takes the ViT plus form (int_ops_plus.h) its quantizers need, as
// lower_vit.cc picks it: the wide LayerNorm, per-channel linear outputs, per-channel contexts and GELU outputs, and
// the residual adds onto a 16-bit per-channel stream. Swin's own: patch merging gathers the 16-bit stream and
// normalizes it with the stream quantizer tiled 4x, its reduction writes the next stage's 16-bit stream, and the
// average pool requantizes per channel (PTF folded into the head).
#include <algorithm>
#include <cmath>

#include "fqvit/core/error.h"
#include "fqvit/model/swin_buffers.h"
#include "fqvit/model/swin_names.h"
#include "fqvit/model/swin_window.h"
#include "lower/lower_models.h"
#include "lower/lower_ops.h"
#include "lower/lower_swin.h"

namespace fqvit::lower {
namespace {

// What the tensors and the config fix about one stage (SwinModel::load's rules).
struct Stage {
  int64_t depth = 0, dim = 0, heads = 0, hidden = 0, resolution = 0, window = 0, shift = 0;
  std::vector<int32_t> rel_index;  // [win^2 * win^2], rows of the bias table
  bool merges = false;             // a patch merging closes the stage
};

class SwinLowering {
 public:
  explicit SwinLowering(const LoweringContext& c)
      : file_(c.file), cfg_(c.config), int_ln_(c.int_layer_norm), wide_ln_(c.wide_layer_norm), origin_(c.origin) {}

  LoweredModel run();

 private:
  ActQuant act(const std::string& point) const { return act_quant(file_, point, origin_); }
  ActQuant act(SwinPoint p, int stage = -1, int block = -1) const { return act(swin_point_name(p, stage, block)); }
  // A residual stream point (the block adds, patch merging's reduction): its codes may be up to 16 bits wide.
  ActQuant stream(SwinPoint p, int stage, int block = -1) const {
    return act_quant(file_, swin_point_name(p, stage, block), origin_, 16);
  }
  std::string name(SwinTensor t, int stage = -1, int block = -1) const { return swin_tensor_name(t, layout_, stage, block); }
  const Shape& shape(SwinTensor t, int stage = -1, int block = -1) const {
    const std::string n = name(t, stage, block);
    if (!file_.file.contains(n)) fail(origin_, n, "missing", "a tensor of the Swin layout");
    return file_.file.info(n).shape;
  }
  Tensor tensor(SwinTensor t, const Shape& shape, int stage = -1, int block = -1) const {
    return float_tensor(file_, name(t, stage, block), shape, origin_);
  }
  // The codes of module `module` (FQ-ViT's name) of `shape`, with the checkpoint's bias tensor (`bias`, if any).
  WeightCodes weights(const std::string& module, const Shape& shape, const std::string& bias) const {
    return weight_codes(file_, module, shape, bias, origin_);
  }
  int buffer(const std::string& point, int64_t rows, int64_t cols, int code_bytes = 1) {
    plan_->buffers.push_back({point, rows, cols, code_bytes});
    return static_cast<int>(plan_->buffers.size()) - 1;
  }
  void emit(std::string name, OpParams params, std::vector<int> inputs, int output) {
    emit_op(*plan_, std::move(name), std::move(params), std::move(inputs), output);
  }
  // Each op in the paper's form where its quantizers allow, in the fqvit_plus form (int_ops_plus.h) otherwise.
  OpParams layer_norm(const ActQuant& in, const ActQuant& out, SwinTensor gamma, SwinTensor beta, int64_t c,
                      int stage = -1, int block = -1) const;
  OpParams linear(const WeightCodes& w, const ActQuant& in, const ActQuant& out) const;
  OpParams residual_add(const ActQuant& a, const ActQuant& b, const ActQuant& out, int64_t c) const;
  OpParams mlp_up(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out) const;
  void read_geometry();
  // x: the residual stream's buffer (grid order) under resid_q; returns the block's output stream.
  int block(int stage, int index, int x, ActQuant& resid_q);
  int merge(int stage, int x, ActQuant& resid_q);
  OpParams window_attention(int stage, int index) const;
  OpParams average_pool(const ActQuant& in, const ActQuant& out, int64_t tokens, int64_t c) const;

  const QuantizedFile& file_;
  const ModelConfig& cfg_;
  bool int_ln_, wide_ln_;
  std::string origin_;
  SwinLayout layout_ = SwinLayout::kOfficial;
  std::vector<Stage> stages_;
  std::shared_ptr<IntPlan> plan_ = std::make_shared<IntPlan>();
};

bool is_identity(const RowGatherParams& p) {
  for (size_t r = 0; r < p.source.size(); ++r) {
    if (p.source[r] != static_cast<int32_t>(r)) return false;
  }
  return p.group == 1;
}

OpParams SwinLowering::layer_norm(const ActQuant& in, const ActQuant& out, SwinTensor gamma, SwinTensor beta, int64_t c,
                                  int stage, int block) const {
  const Tensor g = tensor(gamma, {c}, stage, block), b = tensor(beta, {c}, stage, block);
  // The emulation's own switch (calibrate/hooks.cc), as lower_vit.cc: the wide LayerNorm whenever the extensions
  // leave the reference's arithmetic or the output has per-channel factors.
  if (int_ln_ && (wide_ln_ || out.per_channel())) return LayerNormWideOp{layer_norm_wide_params(in, out, g, b, origin_)};
  if (in.needs_channel_ops()) {
    fail(origin_, "quantizers.activations." + in.point, "per-channel zero points or wide codes",
         "the integer LayerNorm of the extensions (quantization.int_layer_norm true)");
  }
  return LayerNormOp{layer_norm_params(in, out, g, b, int_ln_, static_cast<double>(cfg_.norm_eps), origin_)};
}

OpParams SwinLowering::linear(const WeightCodes& w, const ActQuant& in, const ActQuant& out) const {
  if (!out.needs_channel_ops()) return LinearOp{linear_params(w, in, out, origin_)};
  LinearParams p = linear_params(w, in, out, origin_, 16);  // 16 bits: the reduction onto the next stage's stream
  ChannelRequantParams rq = channel_requant(p, out);
  return LinearChannelOp{std::move(p), std::move(rq)};
}

OpParams SwinLowering::residual_add(const ActQuant& a, const ActQuant& b, const ActQuant& out, int64_t c) const {
  const std::string field = out.point + " multipliers";
  if (!a.needs_channel_ops() && !b.needs_channel_ops() && !out.needs_channel_ops()) {
    return ResidualAddOp{residual_add_params(a, b, out, c, origin_, field)};
  }
  if (b.hi > 255) fail(origin_, "quantizers.activations." + b.point + ".bits", std::to_string(b.bits), "at most 8");
  return ResidualAddChannelOp{residual_add_channel_params(a, b, out, c, origin_, field)};
}

OpParams SwinLowering::mlp_up(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out) const {
  ActQuant per_tensor = out;  // the fc1 accumulators go to the GELU tables; the LinearParams multiplier is unused
  per_tensor.scale.resize(1), per_tensor.zero_points.clear();
  LinearParams l = linear_params(fc1, in, per_tensor, origin_);
  l.multiplier.clear();  // the GELU tables requantize (gelu.to_h): not kept twice
  l.rounding_offset.clear();
  if (!out.per_channel() && !out.needs_channel_ops()) return MlpUpOp{std::move(l), gelu_params(fc1, in, out, origin_)};
  return MlpUpChannelOp{std::move(l), gelu_channel_params(fc1, in, out, origin_)};
}

OpParams SwinLowering::average_pool(const ActQuant& in, const ActQuant& out, int64_t tokens, int64_t c) const {
  if (in.per_channel() || in.needs_channel_ops()) {
    fail(origin_, "quantizers.activations." + in.point, "per-channel", "a per-tensor quantizer (the pool's input)");
  }
  if (tokens >= (int64_t{1} << 23)) {
    fail(origin_, "model_config.img_size", std::to_string(tokens) + " tokens in the last stage",
         "below 2^23 (the average pool's int32 sum)");
  }
  const std::string field = out.point + " average-pool multiplier";
  if (!out.per_channel() && !out.needs_channel_ops()) {
    TokenMeanOp pool;
    pool.params.tokens = tokens, pool.params.channels = c;
    pool.params.in_zero_point = in.zero_point;
    pool.params.multiplier =
        fixed_multiplier_from_real(in.scale[0] / (static_cast<double>(tokens) * out.scale[0]), origin_, field);
    pool.params.out_zero_point = out.zero_point, pool.params.lo = out.lo, pool.params.hi = out.hi;
    return pool;
  }
  if (static_cast<int64_t>(out.scale.size()) != c) {
    fail(origin_, "quantizers.activations." + out.point + ".alpha", std::to_string(out.scale.size()) + " channels",
         "1 or " + std::to_string(c));
  }
  TokenMeanChannelOp pool;
  TokenMeanChannelParams& m = pool.params;
  m.tokens = tokens, m.channels = c, m.in_zero_point = in.zero_point, m.lo = out.lo, m.hi = out.hi;
  for (int64_t k = 0; k < c; ++k) {
    m.multiplier.push_back(fixed_multiplier_from_real(
        in.scale[0] / (static_cast<double>(tokens) * out.channel_scale(k)), origin_, field));
    m.out_zero_point.push_back(out.channel_zero_point(k));
  }
  return pool;
}

OpParams SwinLowering::window_attention(int stage, int index) const {
  const Stage& g = stages_[static_cast<size_t>(stage)];
  const int64_t win = g.window, n = win * win, heads = g.heads, dh = g.dim / heads, res = g.resolution;
  const int64_t shift = index % 2 == 1 ? g.shift : 0;
  const ActQuant qkv_q = act(SwinPoint::kQkv, stage, index), a_q = act(SwinPoint::kScores, stage, index),
                 t_q = act(SwinPoint::kBiasTable, stage, index), b_q = act(SwinPoint::kScoresBiased, stage, index),
                 prob_q = act(SwinPoint::kSoftmax, stage, index), ctx_q = act(SwinPoint::kContext, stage, index);
  for (const ActQuant* q : {&qkv_q, &a_q, &t_q, &b_q}) {
    if (q->scale.size() != 1) fail(origin_, "quantizers.activations." + q->point, "per-channel", "a per-tensor quantizer");
  }
  SwinAttentionParams p;
  ActQuant ctx_tensor = ctx_q;  // attention_params reads one output scale; a per-channel requant replaces it
  ctx_tensor.scale.resize(1), ctx_tensor.zero_points.clear();
  // The softmax reads attn.qact2's codes (the biased logits): its exp constants are built on that scale.
  p.attention = attention_params(qkv_q, b_q, prob_q, ctx_tensor, n, heads, dh, origin_);
  AttentionParams& a = p.attention;
  const auto attn_scale = static_cast<float>(std::pow(static_cast<double>(dh), -0.5));  // the graph's float
  a.score_multiplier = fixed_multiplier_from_real(
      qkv_q.scale[0] * qkv_q.scale[0] * static_cast<double>(attn_scale) / a_q.scale[0], origin_,
      a_q.point + " score multiplier (s_qkv^2 head_dim^-0.5 / s)");
  a.logit_zero_point = a_q.zero_point, a.logit_lo = a_q.lo, a.logit_hi = a_q.hi;
  p.windows = (res / win) * (res / win);
  p.a_zero_point = a_q.zero_point;
  p.biased_zero_point = b_q.zero_point, p.biased_lo = b_q.lo, p.biased_hi = b_q.hi;

  // L = (A - zp_a) s_a / s_b + (T - zp_t) s_t / s_b on one exponent, the table's term tabulated per head.
  const double ra = a_q.scale[0] / b_q.scale[0], rt = t_q.scale[0] / b_q.scale[0];
  const std::string field = b_q.point + " multipliers (s_a / s_b, s_table / s_b)";
  const FixedMultiplier big = fixed_multiplier_from_real(std::max(ra, rt), origin_, field);
  p.a_multiplier = fixed_multiplier_with_exponent(ra, big.exponent, origin_, field);
  const FixedMultiplier mt = fixed_multiplier_with_exponent(rt, big.exponent, origin_, field);
  const Tensor table = tensor(SwinTensor::kRelPosBiasTable, {(2 * win - 1) * (2 * win - 1), heads}, stage, index);
  const std::vector<uint8_t> codes = constant_codes(table.data(), table.numel(), t_q);
  p.bias.resize(static_cast<size_t>(heads * n * n));
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t ij = 0; ij < n * n; ++ij) {
      const int64_t row = g.rel_index[static_cast<size_t>(ij)];
      const int64_t code = codes[static_cast<size_t>(row * heads + h)];
      p.bias[static_cast<size_t>(h * n * n + ij)] = (code - t_q.zero_point) * mt.mantissa_q31;  // |.| < 2^39
    }
  }
  if (shift > 0) p.region = swin_regions(res, win, shift);
  if (!ctx_q.per_channel() && !ctx_q.needs_channel_ops()) return SwinAttentionOp{std::move(p)};
  ChannelRequantParams context = context_requant(qkv_q, prob_q, ctx_q, origin_);
  return SwinAttentionChannelOp{std::move(p), std::move(context)};
}

int SwinLowering::block(int stage, int index, int x, ActQuant& resid_q) {
  const Stage& g = stages_[static_cast<size_t>(stage)];
  const int64_t c = g.dim, rows = g.resolution * g.resolution;
  const int64_t shift = index % 2 == 1 ? g.shift : 0;
  const std::string p = "layers." + std::to_string(stage) + ".blocks." + std::to_string(index) + ".";
  const ActQuant n1 = act(SwinPoint::kNorm1, stage, index), qkv_q = act(SwinPoint::kQkv, stage, index),
                 ctx_q = act(SwinPoint::kContext, stage, index), proj_q = act(SwinPoint::kProj, stage, index),
                 r2 = stream(SwinPoint::kResidual1, stage, index), n2 = act(SwinPoint::kNorm2, stage, index),
                 gelu_q = act(SwinPoint::kFc1, stage, index), fc2_q = act(SwinPoint::kFc2, stage, index),
                 r4 = stream(SwinPoint::kResidual2, stage, index);

  const int h1 = buffer(n1.point, rows, c);
  emit(p + "norm1", layer_norm(resid_q, n1, SwinTensor::kNorm1Weight, SwinTensor::kNorm1Bias, c, stage, index), {x},
       h1);
  const RowGatherParams to_windows = swin_partition_map(g.resolution, g.window, shift, c);
  const bool moves = !is_identity(to_windows);
  int windows = h1;
  if (moves) {
    windows = buffer(n1.point + "@windows", rows, c);
    emit(p + "window_partition", RowGatherOp{to_windows}, {h1}, windows);
  }
  const int qkv = buffer(qkv_q.point, rows, 3 * c);
  const WeightCodes qkv_w = weights(p + "attn.qkv", {3 * c, c}, name(SwinTensor::kQkvBias, stage, index));
  emit(p + "attn.qkv", linear(qkv_w, n1, qkv_q), {windows}, qkv);
  const int ctx = buffer(ctx_q.point, rows, c);
  emit(p + "attn", window_attention(stage, index), {qkv}, ctx);
  const int proj = buffer(proj_q.point, rows, c);
  const WeightCodes proj_w = weights(p + "attn.proj", {c, c}, name(SwinTensor::kProjBias, stage, index));
  emit(p + "attn.proj", linear(proj_w, ctx_q, proj_q), {ctx}, proj);
  int branch = proj;
  if (moves) {
    RowGatherParams to_grid = swin_reverse_map(to_windows);
    branch = buffer(proj_q.point + "@grid", rows, c);
    emit(p + "window_reverse", RowGatherOp{std::move(to_grid)}, {proj}, branch);
  }
  const int x2 = buffer(r2.point, rows, c, r2.code_bytes());
  emit(p + "add1", residual_add(resid_q, proj_q, r2, c), {x, branch}, x2);

  const int h2 = buffer(n2.point, rows, c);
  emit(p + "norm2", layer_norm(r2, n2, SwinTensor::kNorm2Weight, SwinTensor::kNorm2Bias, c, stage, index), {x2}, h2);
  const WeightCodes fc1 = weights(p + "mlp.fc1", {g.hidden, c}, name(SwinTensor::kFc1Bias, stage, index));
  const int mid = buffer(gelu_q.point, rows, fc1.out);
  emit(p + "mlp.fc1+gelu", mlp_up(fc1, n2, gelu_q), {h2}, mid);
  const int fc2 = buffer(fc2_q.point, rows, c);
  const WeightCodes fc2_w = weights(p + "mlp.fc2", {c, g.hidden}, name(SwinTensor::kFc2Bias, stage, index));
  emit(p + "mlp.fc2", linear(fc2_w, gelu_q, fc2_q), {mid}, fc2);
  const int x4 = buffer(r4.point, rows, c, r4.code_bytes());
  emit(p + "add2", residual_add(r2, fc2_q, r4, c), {x2, fc2}, x4);
  resid_q = r4;
  return x4;
}

int SwinLowering::merge(int stage, int x, ActQuant& resid_q) {
  const Stage& g = stages_[static_cast<size_t>(stage)];
  const int64_t c = g.dim, res = g.resolution, half = res / 2, rows = half * half;
  const std::string p = "layers." + std::to_string(stage) + ".downsample.";
  const ActQuant m1 = act(SwinPoint::kMergeNorm, stage), m2 = stream(SwinPoint::kMergeReduction, stage);

  RowGatherParams gather = swin_merge_map(res, c);
  gather.code_bytes = resid_q.code_bytes();  // the stream's codes, 16-bit under "residual_bits" 16
  const int cat = buffer(resid_q.point + "@merge2x2", rows, 4 * c, resid_q.code_bytes());
  emit(p + "gather", RowGatherOp{std::move(gather)}, {x}, cat);

  // The LayerNorm over 4C reads channel k C + c with the stream quantizer's channel c (the reference's
  // in_scale_expand = 4): its scales, PTF factors and (fqvit_plus) zero points tiled.
  ActQuant tiled = resid_q;
  tiled.point = resid_q.point + "@merge2x2";
  if (resid_q.scale.size() > 1) {
    tiled.scale.clear(), tiled.alpha.clear(), tiled.zero_points.clear();
    for (int k = 0; k < 4; ++k) {
      tiled.scale.insert(tiled.scale.end(), resid_q.scale.begin(), resid_q.scale.end());
      tiled.alpha.insert(tiled.alpha.end(), resid_q.alpha.begin(), resid_q.alpha.end());
      tiled.zero_points.insert(tiled.zero_points.end(), resid_q.zero_points.begin(), resid_q.zero_points.end());
    }
  }
  const int normed = buffer(m1.point, rows, 4 * c);
  emit(p + "norm", layer_norm(tiled, m1, SwinTensor::kMergeNormWeight, SwinTensor::kMergeNormBias, 4 * c, stage),
       {cat}, normed);
  const int64_t next = stages_[static_cast<size_t>(stage) + 1].dim;
  const WeightCodes red = weights(p + "reduction", {next, 4 * c}, "");
  const int out = buffer(m2.point, rows, red.out, m2.code_bytes());
  emit(p + "reduction", linear(red, m1, m2), {normed}, out);
  resid_q = m2;
  return out;
}

void SwinLowering::read_geometry() {
  std::vector<std::string> names;
  for (const TensorInfo& t : file_.file.tensors()) names.push_back(t.name);
  layout_ = detect_swin_layout(names, origin_);
  int64_t resolution = cfg_.img_size / cfg_.patch_size;
  for (int s = 0; file_.file.contains(name(SwinTensor::kNorm1Weight, s, 0)); ++s) {
    Stage g;
    while (file_.file.contains(name(SwinTensor::kNorm1Weight, s, static_cast<int>(g.depth)))) ++g.depth;
    g.dim = shape(SwinTensor::kNorm1Weight, s, 0).at(0);
    const Shape& table = shape(SwinTensor::kRelPosBiasTable, s, 0);
    g.heads = table.size() == 2 ? table[1] : 0;
    g.hidden = shape(SwinTensor::kFc1Weight, s, 0).at(0);
    g.resolution = resolution;
    // Official rule: a grid no larger than the window is one window, unshifted.
    g.window = std::min<int64_t>(cfg_.window_size, resolution);
    g.shift = resolution <= cfg_.window_size ? 0 : cfg_.window_size / 2;
    if (g.window < 1 || resolution % g.window != 0) {
      fail(origin_, "window_size",
           std::to_string(cfg_.window_size) + " on the " + std::to_string(resolution) + "x" +
               std::to_string(resolution) + " grid of stage " + std::to_string(s),
           "a window dividing every stage's grid (img_size " + std::to_string(cfg_.img_size) + ", patch " +
               std::to_string(cfg_.patch_size) + ")");
    }
    const int64_t span = 2 * g.window - 1;
    if (table.size() != 2 || table[0] != span * span || g.heads < 1 || g.dim % g.heads != 0) {
      fail(origin_, name(SwinTensor::kRelPosBiasTable, s, 0) + ".shape", shape_to_string(table),
           "[" + std::to_string(span * span) + ", heads] with heads dividing " + std::to_string(g.dim) +
               " (window " + std::to_string(g.window) + ")");
    }
    const auto si = static_cast<size_t>(s);
    if (si < cfg_.stage_heads.size() && cfg_.stage_heads[si] != g.heads) {
      fail(origin_, name(SwinTensor::kRelPosBiasTable, s, 0) + ".shape", std::to_string(g.heads) + " heads",
           std::to_string(cfg_.stage_heads[si]) + " heads (num_heads of " + cfg_.architecture + ")");
    }
    g.rel_index = relative_position_index(static_cast<int>(g.window));
    // An official checkpoint's buffers (carried into the quantized file) must match the maps built here, as the
    // float loader requires: the bias index of every block, the mask of every shifted one.
    const std::vector<float> mask =
        g.shift > 0 ? shifted_window_mask(static_cast<int>(resolution), static_cast<int>(resolution),
                                          static_cast<int>(g.window), static_cast<int>(g.shift))
                    : std::vector<float>{};
    const int64_t windows = (resolution / g.window) * (resolution / g.window);
    for (int b = 0; b < g.depth; ++b) {
      check_relative_position_index(file_.file, name(SwinTensor::kRelPosIndex, s, b), g.rel_index, g.window, origin_);
      check_attention_mask(file_.file, name(SwinTensor::kAttnMask, s, b), b % 2 == 1 ? mask : std::vector<float>{},
                           windows, g.window * g.window, origin_);
    }
    g.merges = file_.file.contains(name(SwinTensor::kMergeReduction, s));
    stages_.push_back(std::move(g));
    if (!stages_.back().merges) break;
    if (resolution % 2 != 0) {
      fail(origin_, "model_config.img_size", std::to_string(cfg_.img_size),
           "a grid of even size before each patch merging (stage " + std::to_string(s) + ": " +
               std::to_string(resolution) + "x" + std::to_string(resolution) + ")");
    }
    resolution /= 2;
  }
  if (stages_.empty()) fail(origin_, name(SwinTensor::kNorm1Weight, 0, 0), "missing", "at least one Swin stage");
  std::vector<int> depths;
  for (const Stage& g : stages_) depths.push_back(static_cast<int>(g.depth));
  if (!cfg_.depths.empty() && depths != cfg_.depths) {
    auto list = [](const std::vector<int>& v) {
      std::string out;
      for (int d : v) out += (out.empty() ? "" : ", ") + std::to_string(d);
      return "[" + out + "]";
    };
    fail(origin_, "layers.{i}.blocks", "depths " + list(depths), "depths " + list(cfg_.depths) + " of " +
                                                                     cfg_.architecture);
  }
}

LoweredModel SwinLowering::run() {
  read_geometry();
  plan_->architecture = cfg_.architecture;
  plan_->image_size = cfg_.img_size;
  plan_->channels = cfg_.in_chans;
  plan_->classes = cfg_.num_classes;

  const int64_t c0 = stages_.front().dim, tokens0 = stages_.front().resolution * stages_.front().resolution;
  const ActQuant patch_q = act(SwinPoint::kPatchEmbed), norm_q = act(SwinPoint::kPatchNorm);
  const int patch_buf = buffer(patch_q.point, tokens0, c0);
  const int64_t ps = cfg_.patch_size;
  const WeightCodes patch_w = weights("patch_embed.proj", {c0, cfg_.in_chans, ps, ps}, name(SwinTensor::kPatchBias));
  if (cfg_.quantize_input) {
    const ActQuant in = act(SwinPoint::kInput);
    emit("patch_embed", patch_embed_op(patch_w, cfg_, &in, patch_q, origin_), {}, patch_buf);
  } else {
    emit("patch_embed", patch_embed_op(patch_w, cfg_, nullptr, patch_q, origin_), {}, patch_buf);
  }
  int x = buffer(norm_q.point, tokens0, c0);
  emit("patch_embed.norm", layer_norm(patch_q, norm_q, SwinTensor::kPatchNormWeight, SwinTensor::kPatchNormBias, c0),
       {patch_buf}, x);

  ActQuant resid_q = norm_q;
  const int stage_count = static_cast<int>(stages_.size());
  for (int s = 0; s < stage_count; ++s) {
    for (int b = 0; b < stages_[static_cast<size_t>(s)].depth; ++b) x = block(s, b, x, resid_q);
    if (s + 1 < stage_count) x = merge(s, x, resid_q);
  }

  const Stage& last = stages_.back();
  const int64_t c = last.dim, tokens = last.resolution * last.resolution;
  const ActQuant final_q = act(SwinPoint::kFinalNorm), pool_q = act(SwinPoint::kPooled);
  const int feats = buffer(final_q.point, tokens, c);
  emit("norm", layer_norm(resid_q, final_q, SwinTensor::kNormWeight, SwinTensor::kNormBias, c), {x}, feats);

  const int pooled = buffer(pool_q.point, 1, c);
  emit("avgpool", average_pool(final_q, pool_q, tokens, c), {feats}, pooled);

  HeadOp head;
  head.tokens = 1, head.dim = c;
  const ActQuant out_q = act(SwinPoint::kLogits);
  head.head = linear_params(weights("head", {cfg_.num_classes, c}, name(SwinTensor::kHeadBias)), pool_q, out_q, origin_);
  head.scores.a_zero_point = out_q.zero_point;
  emit("head", std::move(head), {pooled}, -1);

  LoweredModel out;
  out.plan = plan_;
  out.config = cfg_;
  out.score_scale = out_q.scale[0];
  return out;
}

}  // namespace

// torch.roll by -shift then window_partition (model/swin_window.h): windowed row (w N + t) reads grid row source.
RowGatherParams swin_partition_map(int64_t res, int64_t win, int64_t shift, int64_t cols) {
  RowGatherParams p;
  p.in_rows = p.out_rows = res * res, p.cols = cols;
  const int64_t per_row = res / win;
  for (int64_t wy = 0; wy < per_row; ++wy) {
    for (int64_t wx = 0; wx < per_row; ++wx) {
      for (int64_t ty = 0; ty < win; ++ty) {
        for (int64_t tx = 0; tx < win; ++tx) {
          const int64_t y = (wy * win + ty + shift) % res, x = (wx * win + tx + shift) % res;
          p.source.push_back(static_cast<int32_t>(y * res + x));
        }
      }
    }
  }
  return p;
}

// The inverse permutation: window_reverse then the roll by +shift.
RowGatherParams swin_reverse_map(const RowGatherParams& forward) {
  RowGatherParams p = forward;
  for (size_t r = 0; r < forward.source.size(); ++r) p.source[static_cast<size_t>(forward.source[r])] = static_cast<int32_t>(r);
  return p;
}

RowGatherParams swin_merge_map(int64_t res, int64_t cols) {
  // torch.cat([x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]], -1).
  RowGatherParams p;
  const int64_t half = res / 2;
  p.in_rows = res * res, p.out_rows = half * half, p.cols = cols, p.group = 4;
  constexpr int64_t kDy[4] = {0, 1, 0, 1}, kDx[4] = {0, 0, 1, 1};
  for (int64_t r = 0; r < half; ++r) {
    for (int64_t c = 0; c < half; ++c) {
      for (int k = 0; k < 4; ++k) p.source.push_back(static_cast<int32_t>((2 * r + kDy[k]) * res + 2 * c + kDx[k]));
    }
  }
  return p;
}

std::vector<uint8_t> swin_regions(int64_t res, int64_t window, int64_t shift) {
  // Region of a coordinate of the shifted grid in the official mask's labelling: slices [0, -win), [-win, -shift),
  // [-shift, end), label = 3 * row region + column region.
  auto region = [&](int64_t y) { return y < res - window ? 0 : (y < res - shift ? 1 : 2); };
  std::vector<uint8_t> labels;
  const int64_t per_row = res / window;
  for (int64_t w = 0; w < per_row * per_row; ++w) {
    for (int64_t t = 0; t < window * window; ++t) {
      const int64_t y = (w / per_row) * window + t / window, x = (w % per_row) * window + t % window;
      labels.push_back(static_cast<uint8_t>(3 * region(y) + region(x)));
    }
  }
  return labels;
}

LoweredModel lower_swin(const LoweringContext& context) { return SwinLowering(context).run(); }

}  // namespace fqvit::lower
