// Swin Transformer: loading, quantizer names and weight list. The forward pass is in swin_forward.cc.
//
// FQ-ViT's quantizer placement in Swin (megvii-research/FQ-ViT models/swin_quant.py, PatchEmbed and Mlp in
// models/layers_quant.py), module name -> what it quantizes, in forward order. forward() calls QuantHooks with
// exactly these names, in this order; LayerNorms get the (input, output) quantizers the reference passes to its
// QIntLayerNorm. "stream" marks the residual-stream quantizers FQ-ViT builds with the LayerNorm-input (PTF) config.
//
//   qact_input                     normalized image (every FQ-ViT Swin builder sets input_quant=True)
//   patch_embed.proj   QConv2d     weight
//   patch_embed.qact_before_norm   conv output [B, N, C0]
//   patch_embed.norm               LayerNorm(in patch_embed.qact_before_norm, out patch_embed.qact)
//   patch_embed.qact               norm output, the stream entering stage 0 (a plain activation quantizer here)
//   layers.{s}.blocks.{j}.
//     norm1                        LayerNorm(in: blocks.{j-1}.qact4; for j = 0 layers.{s-1}.downsample.qact2, or
//                                  patch_embed.qact when s = 0; out: qact1)
//     qact1                        norm1 output, in token order (before roll and window partition)
//     attn.qkv           QLinear   weight
//     attn.qact1                   qkv output [B*nW*N, 3C]
//     attn.qact_attn1              (q * scale) @ k^T [B*nW*heads*N, N], before the position bias
//     attn.qact_table              relative_position_bias_table [(2W-1)^2, heads], before the index gather
//     attn.qact2                   logits + gathered bias
//     (mask)                       shifted blocks add the attention mask (0 / -100) in float AFTER attn.qact2
//     attn.log_int_softmax         softmax over the masked logits; its logits quantizer is attn.qact2
//     attn.qact3                   attn @ v [B*nW*N, C]
//     attn.proj          QLinear   weight
//     attn.qact4                   proj output, in window order (window reverse and roll only move rows)
//     qact2                        shortcut + attention branch (stream)
//     norm2                        LayerNorm(in qact2, out qact3)
//     qact3                        norm2 output
//     mlp.fc1            QLinear   weight; GELU stays float
//     mlp.qact1                    GELU output
//     mlp.fc2            QLinear   weight
//     mlp.qact2                    fc2 output
//     qact4                        qact2's stream + MLP branch (stream)
//   layers.{s}.downsample.         PatchMerging closing stage s (s < last)
//     norm                         LayerNorm over the 2x2 concat [.., 4C] (in layers.{s}.blocks.{last}.qact4 with
//                                  in_scale_expand = 4: channel k*C + c takes the input quantizer's channel c;
//                                  out downsample.qact1)
//     qact1                        norm output
//     reduction          QLinear   weight, no bias
//     qact2                        reduction output, the stream entering stage s+1 (stream)
//   norm                           final LayerNorm(in layers.{last}.blocks.{last}.qact4, out qact2)
//   qact2                          norm output [B*L, C]
//   qact3                          average over the L tokens [B, C]
//   head               QLinear     weight
//   act_out                        logits
//
// Where the reference is ambiguous or odd, and what this graph does:
// - Scale: the reference multiplies q by head_dim^-0.5 before q @ k^T; so does this graph (ViT scales the product).
// - LIS reads attn.qact2's scale, but the mask is added after attn.qact2, so masked logits (x - 100) are off
//   qact2's grid; the reference's int_softmax just divides by the scale without rounding. The hook gets the masked
//   logits and "attn.qact2" as their quantizer, as the reference does.
// - The merging norm's input quantizer covers C channels while the norm sees 4C: QuantHooks::layer_norm receives
//   channels = 4C and must tile the input quantizer's per-channel scales 4 times (the reference's in_scale_expand).
// - ape (absolute_pos_embed and the model-level qact1) is off in every Swin builder; such checkpoints are rejected.
// - qact_table quantizes the table once per forward and block, not per window, as in the reference.
#include "fqvit/model/swin_model.h"

#include <algorithm>
#include <cstring>

#include "fqvit/core/error.h"
#include "fqvit/model/swin_buffers.h"
#include "fqvit/model/swin_window.h"

namespace fqvit {
namespace {

std::string list_to_string(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

void require(bool ok, const std::string& file, const std::string& field, const std::string& found,
             const std::string& expected) {
  if (!ok) fail(file, field, found, expected);
}

}  // namespace

std::unique_ptr<SwinModel> SwinModel::load(const SafetensorsFile& file, ModelConfig config) {
  const std::string& path = file.path();
  auto model = std::make_unique<SwinModel>();
  SwinWeights& w = model->w_;

  std::vector<std::string> names;
  names.reserve(file.tensors().size());
  for (const TensorInfo& t : file.tensors()) names.push_back(t.name);
  const SwinLayout layout = detect_swin_layout(names, path);
  model->layout_ = layout;
  auto name = [&](SwinTensor t, int stage = -1, int block = -1) { return swin_tensor_name(t, layout, stage, block); };
  auto load = [&](SwinTensor t, const Shape& shape, int stage = -1, int block = -1) {
    return file.load_float(name(t, stage, block), shape);
  };
  require(!file.contains("absolute_pos_embed"), path, "absolute_pos_embed", "present",
          "no absolute position embedding (ape=False, as in every Swin FQ-ViT builds)");

  // Patch embedding fixes C0, in_chans and the patch size.
  const TensorInfo& patch = file.info(name(SwinTensor::kPatchWeight));
  require(patch.shape.size() == 4 && patch.shape[2] == patch.shape[3], path, patch.name + ".shape",
          shape_to_string(patch.shape), "[embed_dim, in_chans, P, P]");
  const int64_t c0 = patch.shape[0];
  if (config.embed_dim > 0) {
    require(config.embed_dim == c0, path, patch.name + ".shape", shape_to_string(patch.shape),
            "embed_dim " + std::to_string(config.embed_dim) + " of " + config.architecture);
  }
  config.embed_dim = static_cast<int>(c0);
  config.in_chans = static_cast<int>(patch.shape[1]);
  config.patch_size = static_cast<int>(patch.shape[2]);
  require(config.img_size % config.patch_size == 0, path, patch.name + ".shape", shape_to_string(patch.shape),
          "a patch size dividing img_size " + std::to_string(config.img_size));

  // Stages and blocks: counted from the tensors, then checked against the config.
  std::vector<int> depths;
  while (file.contains(name(SwinTensor::kNorm1Weight, static_cast<int>(depths.size()), 0))) {
    const int s = static_cast<int>(depths.size());
    int d = 0;
    while (file.contains(name(SwinTensor::kNorm1Weight, s, d))) ++d;
    depths.push_back(d);
  }
  require(!depths.empty(), path, "layers", "no " + name(SwinTensor::kNorm1Weight, 0, 0), "at least one Swin stage");
  if (!config.depths.empty()) {
    require(depths == config.depths, path, "layers.{i}.blocks", "depths " + list_to_string(depths),
            "depths " + list_to_string(config.depths) + " of " + config.architecture);
  }
  config.depths = depths;
  const int num_stages = static_cast<int>(depths.size());
  require(static_cast<int>(config.stage_heads.size()) == num_stages, path, "layers",
          std::to_string(num_stages) + " stages", std::to_string(config.stage_heads.size()) +
                                                      " stages (num_heads " + list_to_string(config.stage_heads) +
                                                      " of " + config.architecture + ")");

  // Geometry of every stage, from the grid and the configured window (official rule: a grid no larger than the
  // window is one window, unshifted).
  const int64_t window = config.window_size;
  int64_t resolution = config.img_size / config.patch_size;
  int64_t dim = c0;
  double mlp_ratio = 0.0;
  model->geometry_.resize(static_cast<size_t>(num_stages));
  w.stages.resize(static_cast<size_t>(num_stages));
  for (int s = 0; s < num_stages; ++s) {
    SwinStageGeometry& g = model->geometry_[static_cast<size_t>(s)];
    const std::string stage_name = "layers." + std::to_string(s);
    g.dim = dim;
    g.resolution = resolution;
    g.window = std::min(window, resolution);
    g.shift = resolution <= window ? 0 : window / 2;
    require(resolution % g.window == 0, path, "window_size",
            std::to_string(window) + " on the " + std::to_string(resolution) + "x" + std::to_string(resolution) +
                " grid of stage " + std::to_string(s),
            "a window dividing every stage's grid (img_size " + std::to_string(config.img_size) + ", patch " +
                std::to_string(config.patch_size) + ")");
    g.rel_index = relative_position_index(static_cast<int>(g.window));
    if (g.shift > 0) {
      g.mask = shifted_window_mask(static_cast<int>(resolution), static_cast<int>(resolution),
                                   static_cast<int>(g.window), static_cast<int>(g.shift));
    }

    // Heads come from the bias table, and must agree with the config.
    const int64_t span = 2 * g.window - 1;
    const std::string table0 = name(SwinTensor::kRelPosBiasTable, s, 0);
    const int64_t heads = config.stage_heads[static_cast<size_t>(s)];
    const std::string table_expected = shape_to_string({span * span, heads}) + " ((2*window-1)^2 with window " +
                                       std::to_string(g.window) + ", num_heads " + std::to_string(heads) + " of " +
                                       config.architecture + ")";
    for (int b = 0; b < depths[static_cast<size_t>(s)]; ++b) {
      const std::string table = name(SwinTensor::kRelPosBiasTable, s, b);
      require(file.contains(table), path, table, "nothing", table_expected);
      const TensorInfo& info = file.info(table);
      require(info.shape == Shape{span * span, heads}, path, table + ".shape", shape_to_string(info.shape),
              table_expected);
    }
    require(dim % heads == 0, path, stage_name + " dim", std::to_string(dim),
            "a multiple of num_heads " + std::to_string(heads));
    g.heads = heads;

    const TensorInfo& fc1 = file.info(name(SwinTensor::kFc1Weight, s, 0));
    require(fc1.shape.size() == 2 && fc1.shape[1] == dim, path, fc1.name + ".shape", shape_to_string(fc1.shape),
            "[hidden, " + std::to_string(dim) + "]");
    g.hidden = fc1.shape[0];
    if (s == 0) mlp_ratio = static_cast<double>(g.hidden) / static_cast<double>(dim);

    SwinStageWeights& sw = w.stages[static_cast<size_t>(s)];
    for (int b = 0; b < depths[static_cast<size_t>(s)]; ++b) {
      SwinBlockWeights bw;
      bw.norm1_weight = load(SwinTensor::kNorm1Weight, {dim}, s, b);
      bw.norm1_bias = load(SwinTensor::kNorm1Bias, {dim}, s, b);
      bw.rel_pos_bias_table = load(SwinTensor::kRelPosBiasTable, {span * span, heads}, s, b);
      check_relative_position_index(file, name(SwinTensor::kRelPosIndex, s, b), g.rel_index, g.window, path);
      check_attention_mask(file, name(SwinTensor::kAttnMask, s, b), b % 2 == 1 ? g.mask : std::vector<float>{},
                           (resolution / g.window) * (resolution / g.window), g.window * g.window, path);
      bw.qkv_weight = load(SwinTensor::kQkvWeight, {3 * dim, dim}, s, b);
      bw.qkv_bias = load(SwinTensor::kQkvBias, {3 * dim}, s, b);
      bw.proj_weight = load(SwinTensor::kProjWeight, {dim, dim}, s, b);
      bw.proj_bias = load(SwinTensor::kProjBias, {dim}, s, b);
      bw.norm2_weight = load(SwinTensor::kNorm2Weight, {dim}, s, b);
      bw.norm2_bias = load(SwinTensor::kNorm2Bias, {dim}, s, b);
      bw.fc1_weight = load(SwinTensor::kFc1Weight, {g.hidden, dim}, s, b);
      bw.fc1_bias = load(SwinTensor::kFc1Bias, {g.hidden}, s, b);
      bw.fc2_weight = load(SwinTensor::kFc2Weight, {dim, g.hidden}, s, b);
      bw.fc2_bias = load(SwinTensor::kFc2Bias, {dim}, s, b);
      sw.blocks.push_back(std::move(bw));
    }

    const std::string reduction = name(SwinTensor::kMergeReduction, s);
    if (s + 1 == num_stages) {
      require(!file.contains(reduction), path, reduction, "present after the last stage",
              "no patch merging after the last stage");
      break;
    }
    require(resolution % 2 == 0, path, reduction,
            "a " + std::to_string(resolution) + "x" + std::to_string(resolution) + " grid to merge",
            "an even grid (img_size / patch_size / 2^stage)");
    require(file.contains(reduction), path, reduction, "nothing",
            "the patch merging closing stage " + std::to_string(s) + " of " + std::to_string(num_stages));
    const TensorInfo& red = file.info(reduction);
    require(red.shape.size() == 2 && red.shape[1] == 4 * dim, path, reduction + ".shape",
            shape_to_string(red.shape), "[next_dim, " + std::to_string(4 * dim) + "]");
    require(!file.contains(reduction.substr(0, reduction.size() - 6) + "bias"), path,
            reduction.substr(0, reduction.size() - 6) + "bias", "present", "no bias (Linear(4C, 2C, bias=False))");
    sw.merge_norm_weight = load(SwinTensor::kMergeNormWeight, {4 * dim}, s);
    sw.merge_norm_bias = load(SwinTensor::kMergeNormBias, {4 * dim}, s);
    sw.merge_reduction = load(SwinTensor::kMergeReduction, {red.shape[0], 4 * dim}, s);
    dim = red.shape[0];
    resolution /= 2;
  }
  config.mlp_ratio = mlp_ratio;

  w.patch_weight = load(SwinTensor::kPatchWeight, {c0, config.in_chans, config.patch_size, config.patch_size});
  w.patch_bias = load(SwinTensor::kPatchBias, {c0});
  w.patch_norm_weight = load(SwinTensor::kPatchNormWeight, {c0});
  w.patch_norm_bias = load(SwinTensor::kPatchNormBias, {c0});
  w.norm_weight = load(SwinTensor::kNormWeight, {dim});
  w.norm_bias = load(SwinTensor::kNormBias, {dim});
  const TensorInfo& head = file.info(name(SwinTensor::kHeadWeight));
  require(head.shape == Shape{config.num_classes, dim}, path, head.name + ".shape", shape_to_string(head.shape),
          shape_to_string({config.num_classes, dim}) + " (num_classes from config.json, the last stage's dim)");
  w.head_weight = load(SwinTensor::kHeadWeight, {config.num_classes, dim});
  w.head_bias = load(SwinTensor::kHeadBias, {config.num_classes});

  model->config_ = std::move(config);
  model->build_names();
  return model;
}

void SwinModel::build_names() {
  block_names_.clear();
  merge_names_.clear();
  for (size_t s = 0; s < config_.depths.size(); ++s) {
    const int stage = static_cast<int>(s);
    std::vector<BlockNames> blocks;
    for (int b = 0; b < config_.depths[s]; ++b) {
      const auto n = [stage, b](SwinPoint point) { return swin_point_name(point, stage, b); };
      blocks.push_back({"layers." + std::to_string(s) + ".blocks." + std::to_string(b) + ".", n(SwinPoint::kNorm1),
                        n(SwinPoint::kQkv), n(SwinPoint::kScores), n(SwinPoint::kBiasTable),
                        n(SwinPoint::kScoresBiased), n(SwinPoint::kSoftmax), n(SwinPoint::kContext),
                        n(SwinPoint::kProj), n(SwinPoint::kResidual1), n(SwinPoint::kNorm2), n(SwinPoint::kFc1),
                        n(SwinPoint::kFc2), n(SwinPoint::kResidual2)});
    }
    block_names_.push_back(std::move(blocks));
    merge_names_.push_back({"layers." + std::to_string(s) + ".downsample.",
                            swin_point_name(SwinPoint::kMergeNorm, stage),
                            swin_point_name(SwinPoint::kMergeReduction, stage)});
  }
}

std::vector<std::string> SwinModel::activation_points() const {
  std::vector<std::string> names;
  for (QuantPoint& p : swin_points(config_.depths, config_.quantize_input)) names.push_back(std::move(p.name));
  return names;
}

std::vector<WeightRef> SwinModel::weights() {
  std::vector<WeightRef> refs;
  refs.push_back({"patch_embed.proj", &w_.patch_weight, &w_.patch_bias});
  const size_t stages = w_.stages.size();
  for (size_t s = 0; s < stages; ++s) {
    SwinStageWeights& sw = w_.stages[s];
    for (size_t b = 0; b < sw.blocks.size(); ++b) {
      SwinBlockWeights& bw = sw.blocks[b];
      const std::string& p = block_names_[s][b].prefix;
      refs.push_back({p + "attn.qkv", &bw.qkv_weight, &bw.qkv_bias});
      refs.push_back({p + "attn.proj", &bw.proj_weight, &bw.proj_bias});
      refs.push_back({p + "mlp.fc1", &bw.fc1_weight, &bw.fc1_bias});
      refs.push_back({p + "mlp.fc2", &bw.fc2_weight, &bw.fc2_bias});
    }
    if (s + 1 < stages) refs.push_back({merge_names_[s].prefix + "reduction", &sw.merge_reduction, nullptr});
  }
  refs.push_back({"head", &w_.head_weight, &w_.head_bias});
  return refs;
}

}  // namespace fqvit
