#include "fqvit/model/vit_model.h"

#include <cmath>
#include <cstring>

#include "fqvit/core/error.h"
#include "fqvit/core/thread_limit.h"
#include "fqvit/numerics/float_ops.h"
#include "model/hook_calls.h"
#include "fqvit/model/vit_names.h"

namespace fqvit {
namespace {

// Counts blocks.{i}.norm1.weight from 0 upwards.
int count_blocks(const SafetensorsFile& file) {
  int depth = 0;
  while (file.contains(vit_tensor_name(VitTensor::kNorm1Weight, depth))) ++depth;
  return depth;
}

void require(bool ok, const std::string& file, const std::string& field, const std::string& found,
             const std::string& expected) {
  if (!ok) fail(file, field, found, expected);
}

}  // namespace

int VitModel::num_patches() const {
  const int side = config_.img_size / config_.patch_size;
  return side * side;
}

ModelConfig vit_config_from_tensors(const SafetensorsFile& file, ModelConfig config) {
  const std::string& path = file.path();
  // Dimensions from the tensors: embed_dim from cls_token, patch size and channels from the patch conv.
  const TensorInfo& cls = file.info(vit_tensor_name(VitTensor::kClsToken));
  require(cls.shape.size() == 3 && cls.shape[0] == 1 && cls.shape[1] == 1, path, "cls_token.shape",
          shape_to_string(cls.shape), "[1, 1, embed_dim]");
  const int64_t d = cls.shape[2];
  if (config.embed_dim > 0) {
    require(config.embed_dim == d, path, "cls_token.shape", shape_to_string(cls.shape),
            "embed_dim " + std::to_string(config.embed_dim) + " of " + config.architecture);
  }
  config.embed_dim = static_cast<int>(d);

  const TensorInfo& patch = file.info(vit_tensor_name(VitTensor::kPatchWeight));
  require(patch.shape.size() == 4 && patch.shape[0] == d && patch.shape[2] == patch.shape[3], path,
          "patch_embed.proj.weight.shape", shape_to_string(patch.shape), "[embed_dim, in_chans, P, P]");
  config.in_chans = static_cast<int>(patch.shape[1]);
  config.patch_size = static_cast<int>(patch.shape[2]);

  config.distilled = file.contains(vit_tensor_name(VitTensor::kDistToken));
  const int64_t prefix = config.distilled ? 2 : 1;
  const TensorInfo& pos = file.info(vit_tensor_name(VitTensor::kPosEmbed));
  require(pos.shape.size() == 3 && pos.shape[0] == 1 && pos.shape[2] == d && pos.shape[1] > prefix, path,
          "pos_embed.shape", shape_to_string(pos.shape), "[1, " + std::to_string(prefix) + " + patches, embed_dim]");
  const int64_t patches = pos.shape[1] - prefix;
  const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(patches))));
  require(side * side == patches, path, "pos_embed.shape", shape_to_string(pos.shape),
          "a square number of patches after " + std::to_string(prefix) + " prefix token(s)");
  const int img_size = static_cast<int>(side) * config.patch_size;
  require(img_size == config.img_size, path, "pos_embed.shape", shape_to_string(pos.shape),
          std::to_string(config.img_size / config.patch_size) + "^2 patches for img_size " +
              std::to_string(config.img_size) + " (model_args.img_size in config.json)");

  const int depth = count_blocks(file);
  if (config.depth > 0) {
    require(depth == config.depth, path, "blocks", std::to_string(depth) + " blocks",
            std::to_string(config.depth) + " (depth of " + config.architecture + ")");
  }
  require(depth > 0, path, "blocks", "no blocks.0.norm1.weight", "at least one transformer block");
  config.depth = depth;
  require(config.num_heads > 0 && d % config.num_heads == 0, path, "embed_dim", std::to_string(d),
          "a multiple of num_heads " + std::to_string(config.num_heads));

  const TensorInfo& fc1 = file.info(vit_tensor_name(VitTensor::kFc1Weight, 0));
  require(fc1.shape.size() == 2 && fc1.shape[1] == d, path, "blocks.0.mlp.fc1.weight.shape",
          shape_to_string(fc1.shape), "[hidden, " + std::to_string(d) + "]");
  const int64_t hidden = fc1.shape[0];
  config.mlp_ratio = static_cast<double>(hidden) / static_cast<double>(d);

  const TensorInfo& head = file.info(vit_tensor_name(VitTensor::kHeadWeight));
  require(head.shape.size() == 2 && head.shape[1] == d, path, "head.weight.shape", shape_to_string(head.shape),
          "[num_classes, " + std::to_string(d) + "]");
  require(head.shape[0] == config.num_classes, path, "head.weight.shape", shape_to_string(head.shape),
          "num_classes " + std::to_string(config.num_classes) + " from config.json");
  return config;
}

std::unique_ptr<VitModel> VitModel::load(const SafetensorsFile& file, ModelConfig config) {
  config = vit_config_from_tensors(file, std::move(config));
  auto model = std::make_unique<VitModel>();
  VitWeights& w = model->w_;
  const int64_t d = config.embed_dim, prefix = config.distilled ? 2 : 1;
  const int64_t patches = int64_t{config.img_size / config.patch_size} * (config.img_size / config.patch_size);
  const int depth = config.depth;
  const int64_t hidden = file.info(vit_tensor_name(VitTensor::kFc1Weight, 0)).shape[0];

  auto load = [&](VitTensor t, const Shape& shape, int block = -1) {
    return file.load_float(vit_tensor_name(t, block), shape);
  };
  w.cls_token = load(VitTensor::kClsToken, {1, 1, d});
  if (config.distilled) w.dist_token = load(VitTensor::kDistToken, {1, 1, d});
  w.pos_embed = load(VitTensor::kPosEmbed, {1, prefix + patches, d});
  w.patch_weight = load(VitTensor::kPatchWeight, {d, config.in_chans, config.patch_size, config.patch_size});
  w.patch_bias = load(VitTensor::kPatchBias, {d});
  for (int i = 0; i < depth; ++i) {
    VitBlockWeights b;
    b.norm1_weight = load(VitTensor::kNorm1Weight, {d}, i);
    b.norm1_bias = load(VitTensor::kNorm1Bias, {d}, i);
    b.qkv_weight = load(VitTensor::kQkvWeight, {3 * d, d}, i);
    b.qkv_bias = load(VitTensor::kQkvBias, {3 * d}, i);
    b.proj_weight = load(VitTensor::kProjWeight, {d, d}, i);
    b.proj_bias = load(VitTensor::kProjBias, {d}, i);
    b.norm2_weight = load(VitTensor::kNorm2Weight, {d}, i);
    b.norm2_bias = load(VitTensor::kNorm2Bias, {d}, i);
    b.fc1_weight = load(VitTensor::kFc1Weight, {hidden, d}, i);
    b.fc1_bias = load(VitTensor::kFc1Bias, {hidden}, i);
    b.fc2_weight = load(VitTensor::kFc2Weight, {d, hidden}, i);
    b.fc2_bias = load(VitTensor::kFc2Bias, {d}, i);
    w.blocks.push_back(std::move(b));
  }
  w.norm_weight = load(VitTensor::kNormWeight, {d});
  w.norm_bias = load(VitTensor::kNormBias, {d});
  w.head_weight = load(VitTensor::kHeadWeight, {config.num_classes, d});
  w.head_bias = load(VitTensor::kHeadBias, {config.num_classes});
  if (config.distilled) {
    w.head_dist_weight = load(VitTensor::kHeadDistWeight, {config.num_classes, d});
    w.head_dist_bias = load(VitTensor::kHeadDistBias, {config.num_classes});
  }
  model->config_ = std::move(config);
  model->build_names();
  return model;
}

void VitModel::build_names() {
  names_.clear();
  for (int i = 0; i < config_.depth; ++i) {
    const auto n = [i](VitPoint point) { return vit_point_name(point, i); };
    names_.push_back({"blocks." + std::to_string(i) + ".", n(VitPoint::kNorm1), n(VitPoint::kQkv),
                      n(VitPoint::kScores), n(VitPoint::kSoftmax), n(VitPoint::kContext), n(VitPoint::kProj),
                      n(VitPoint::kResidual1), n(VitPoint::kNorm2), n(VitPoint::kFc1), n(VitPoint::kFc2),
                      n(VitPoint::kResidual2)});
  }
}

std::vector<std::string> VitModel::activation_points() const {
  std::vector<std::string> names;
  for (QuantPoint& p : vit_points(config_.depth, config_.quantize_input, config_.distilled)) {
    names.push_back(std::move(p.name));
  }
  return names;
}

std::vector<WeightRef> VitModel::weights() {
  std::vector<WeightRef> refs;
  refs.push_back({"patch_embed.proj", &w_.patch_weight, &w_.patch_bias});
  for (int i = 0; i < config_.depth; ++i) {
    VitBlockWeights& b = w_.blocks[static_cast<size_t>(i)];
    const std::string& p = names_[static_cast<size_t>(i)].prefix;
    refs.push_back({p + "attn.qkv", &b.qkv_weight, &b.qkv_bias});
    refs.push_back({p + "attn.proj", &b.proj_weight, &b.proj_bias});
    refs.push_back({p + "mlp.fc1", &b.fc1_weight, &b.fc1_bias});
    refs.push_back({p + "mlp.fc2", &b.fc2_weight, &b.fc2_bias});
  }
  refs.push_back({"head", &w_.head_weight, &w_.head_bias});
  if (config_.distilled) refs.push_back({"head_dist", &w_.head_dist_weight, &w_.head_dist_bias});
  return refs;
}

void VitModel::run_block(int index, Tensor& x, int64_t batch, QuantHooks* hooks,
                         const std::string& last_quantizer) const {
  const FloatKernels& k = kernels();
  const VitBlockWeights& b = w_.blocks[static_cast<size_t>(index)];
  const BlockNames& n = names_[static_cast<size_t>(index)];
  const int64_t d = config_.embed_dim;
  const int64_t heads = config_.num_heads;
  const int64_t dh = d / heads;
  const int64_t tokens = x.dim(1);
  const int64_t rows = batch * tokens;
  const float eps = config_.norm_eps;

  // Attention branch.
  auto h = Tensor::uninitialized({batch, tokens, d});
  norm_through(k, hooks, last_quantizer, n.qact1, x.data(), rows, d, b.norm1_weight, b.norm1_bias, eps, h.data());
  act(hooks, n.qact1, h.data(), rows, d);

  auto qkv = Tensor::uninitialized({batch, tokens, 3 * d});
  k.linear(h.data(), rows, d, d, b.qkv_weight, &b.qkv_bias, qkv.data());
  act(hooks, n.attn_qact1, qkv.data(), rows, 3 * d);

  // scores[b, h] = (q k^T) * dh^-0.5
  auto scores = Tensor::uninitialized({batch, heads, tokens, tokens});
  const auto scale = static_cast<float>(std::pow(static_cast<double>(dh), -0.5));  // a Python double there
  const int64_t ld = 3 * d;
  // alpha scales the finished dot products, the same rounding as the reference's (q @ k^T) * scale.
  k.batched_gemm(batch, heads, tokens, tokens, dh, scale, /*b_transposed=*/true, [&](int64_t bh) {
    const float* q = qkv.data() + (bh / heads) * tokens * ld + (bh % heads) * dh;
    return GemmOperands{q, ld, q + d, ld, scores.data() + bh * tokens * tokens, tokens};
  });
  const int64_t score_rows = batch * heads * tokens;
  act(hooks, n.attn_qact_attn1, scores.data(), score_rows, tokens);
  softmax_through(k, hooks, n.attn_softmax, n.attn_qact_attn1, scores.data(), score_rows, tokens);

  // context[b, t, h*dh + j] = sum_s attn[b, h, t, s] v[b, s, h*dh + j]
  k.batched_gemm(batch, heads, tokens, dh, tokens, 1.0f, /*b_transposed=*/false, [&](int64_t bh) {
    const int64_t bi = bh / heads, hi = bh % heads;
    const float* v = qkv.data() + bi * tokens * ld + 2 * d + hi * dh;
    return GemmOperands{scores.data() + bh * tokens * tokens, tokens, v, ld, h.data() + bi * tokens * d + hi * dh, d};
  });
  act(hooks, n.attn_qact2, h.data(), rows, d);

  auto branch = Tensor::uninitialized({batch, tokens, d});
  k.linear(h.data(), rows, d, d, b.proj_weight, &b.proj_bias, branch.data());
  act(hooks, n.attn_qact3, branch.data(), rows, d);
  add_inplace(x.data(), branch.data(), rows * d);
  act(hooks, n.qact2, x.data(), rows, d);

  // MLP branch.
  norm_through(k, hooks, n.qact2, n.qact3, x.data(), rows, d, b.norm2_weight, b.norm2_bias, eps, h.data());
  act(hooks, n.qact3, h.data(), rows, d);
  const int64_t hidden = b.fc1_weight.dim(0);
  auto mid = Tensor::uninitialized({batch, tokens, hidden});
  k.linear(h.data(), rows, d, d, b.fc1_weight, &b.fc1_bias, mid.data());
  k.gelu(mid.data(), mid.numel());
  act(hooks, n.mlp_qact1, mid.data(), rows, hidden);
  k.linear(mid.data(), rows, hidden, hidden, b.fc2_weight, &b.fc2_bias, branch.data());
  act(hooks, n.mlp_qact2, branch.data(), rows, d);
  add_inplace(x.data(), branch.data(), rows * d);
  act(hooks, n.qact4, x.data(), rows, d);
}

Tensor VitModel::forward(const Tensor& images, QuantHooks* hooks) const {
  const FloatKernels& k = kernels();
  const ThreadLimit thread_limit(k.loop_thread_limit());
  const int64_t batch = images.dim(0);
  const int64_t d = config_.embed_dim;
  const int64_t prefix = prefix_tokens();
  const int64_t patches = num_patches();
  const int64_t tokens = prefix + patches;

  const auto point = [](VitPoint p) { return vit_point_name(p); };
  Tensor patch_out =  // [B, N, D]
      patch_embed_through(k, hooks, config_.quantize_input, images, w_.patch_weight, w_.patch_bias);
  act(hooks, point(VitPoint::kPatchEmbed), patch_out.data(), batch * patches, d);

  auto x = Tensor::uninitialized({batch, tokens, d});
  for (int64_t bi = 0; bi < batch; ++bi) {
    float* dst = x.data() + bi * tokens * d;
    std::memcpy(dst, w_.cls_token.data(), static_cast<size_t>(d) * sizeof(float));
    if (config_.distilled) std::memcpy(dst + d, w_.dist_token.data(), static_cast<size_t>(d) * sizeof(float));
    std::memcpy(dst + prefix * d, patch_out.data() + bi * patches * d,
                static_cast<size_t>(patches * d) * sizeof(float));
  }
  act(hooks, point(VitPoint::kClsEmbed), x.data(), batch * tokens, d);
  Tensor pos = w_.pos_embed;
  act(hooks, point(VitPoint::kPosEmbed), pos.data(), tokens, d);
  for (int64_t bi = 0; bi < batch; ++bi) add_inplace(x.data() + bi * tokens * d, pos.data(), tokens * d);
  act(hooks, point(VitPoint::kTokens), x.data(), batch * tokens, d);

  std::string last = point(VitPoint::kTokens);
  for (int i = 0; i < config_.depth; ++i) {
    run_block(i, x, batch, hooks, last);
    last = names_[static_cast<size_t>(i)].qact4;
  }

  // Final LayerNorm on all tokens (as the reference does), then the prefix token(s).
  norm_through(k, hooks, last, point(VitPoint::kFinalNorm), x.data(), batch * tokens, d, w_.norm_weight,
               w_.norm_bias, config_.norm_eps, x.data());
  auto feats = Tensor::uninitialized({batch, prefix, d});
  for (int64_t bi = 0; bi < batch; ++bi) {
    std::memcpy(feats.data() + bi * prefix * d, x.data() + bi * tokens * d,
                static_cast<size_t>(prefix * d) * sizeof(float));
  }
  act(hooks, point(VitPoint::kFinalNorm), feats.data(), batch * prefix, d);

  const int64_t classes = config_.num_classes;
  auto logits = Tensor::uninitialized({batch, classes});
  k.linear(feats.data(), batch, d, prefix * d, w_.head_weight, &w_.head_bias, logits.data());
  act(hooks, point(VitPoint::kLogits), logits.data(), batch, classes);
  if (config_.distilled) {
    // DeiT distilled at eval: the mean of the class-token head and the distillation-token head.
    auto dist = Tensor::uninitialized({batch, classes});
    k.linear(feats.data() + d, batch, d, prefix * d, w_.head_dist_weight, &w_.head_dist_bias, dist.data());
    act(hooks, point(VitPoint::kLogitsDist), dist.data(), batch, classes);
    for (int64_t i = 0; i < logits.numel(); ++i) logits[i] = 0.5f * (logits[i] + dist[i]);
  }
  return logits;
}

}  // namespace fqvit
