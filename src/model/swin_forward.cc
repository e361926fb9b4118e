// Swin Transformer forward pass (official / FQ-ViT dataflow), batched. Quantizer names and their placement: see
// swin_model.cc. Tokens are row-major [B, H*W, C]; window attention runs on [B*nW, N = win^2, C] windows.
#include <cmath>
#include <cstring>

#include "fqvit/core/error.h"
#include "fqvit/core/thread_limit.h"
#include "fqvit/numerics/float_ops.h"
#include "model/hook_calls.h"
#include "fqvit/model/swin_model.h"
#include "fqvit/model/swin_window.h"

namespace fqvit {
Tensor SwinModel::window_attention(int stage, int block, const Tensor& h, int64_t batch, QuantHooks* hooks) const {
  const FloatKernels& k = kernels();
  const SwinStageGeometry& g = geometry_[static_cast<size_t>(stage)];
  const SwinBlockWeights& b = w_.stages[static_cast<size_t>(stage)].blocks[static_cast<size_t>(block)];
  const BlockNames& n = block_names_[static_cast<size_t>(stage)][static_cast<size_t>(block)];
  const int64_t c = g.dim, heads = g.heads, dh = c / heads, res = g.resolution, win = g.window;
  const int64_t shift = block % 2 == 1 ? g.shift : 0;
  const int64_t tokens = win * win;             // N
  const int64_t nw = (res / win) * (res / win);  // windows per image
  const int64_t windows = batch * nw;
  const int64_t rows = windows * tokens;  // == batch * res * res

  // Cyclic shift by -shift and partition into windows, in one pass.
  auto win_x = Tensor::uninitialized({windows, tokens, c});
  window_partition(h.data(), batch, res, res, c, win, shift, win_x.data());

  auto qkv = Tensor::uninitialized({windows, tokens, 3 * c});
  k.linear(win_x.data(), rows, c, c, b.qkv_weight, &b.qkv_bias, qkv.data());
  act(hooks, n.attn_qact1, qkv.data(), rows, 3 * c);

  // scores[w, h] = (q * dh^-0.5) k^T over each window and head: q is scaled first, in float32, as the reference
  // (and timm) do; dh^-0.5 is a Python double there, rounded to float32 by the multiply.
  auto scores = Tensor::uninitialized({windows, heads, tokens, tokens});
  const auto scale = static_cast<float>(std::pow(static_cast<double>(dh), -0.5));
  const int64_t ld = 3 * c;
  const int64_t square = tokens * tokens;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* q = qkv.data() + r * ld;
    for (int64_t j = 0; j < c; ++j) q[j] *= scale;
  }
  k.batched_gemm(windows, heads, tokens, tokens, dh, 1.0f, /*b_transposed=*/true, [&](int64_t wh) {
    const float* q = qkv.data() + (wh / heads) * tokens * ld + (wh % heads) * dh;
    return GemmOperands{q, ld, q + c, ld, scores.data() + wh * square, tokens};
  });
  const int64_t score_rows = windows * heads * tokens;
  act(hooks, n.attn_qact_attn1, scores.data(), score_rows, tokens);

  // + relative position bias, gathered from the (possibly quantized) table: bias[h, i, j] = table[index[i, j], h].
  Tensor table = b.rel_pos_bias_table;
  act(hooks, n.attn_qact_table, table.data(), table.dim(0), heads);
  auto bias = Tensor::uninitialized({heads, tokens, tokens});
  for (int64_t hi = 0; hi < heads; ++hi) {
    for (int64_t ij = 0; ij < square; ++ij) {
      bias[hi * square + ij] = table[g.rel_index[static_cast<size_t>(ij)] * heads + hi];
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t wh = 0; wh < windows * heads; ++wh) {
    float* s = scores.data() + wh * square;
    const float* bh = bias.data() + (wh % heads) * square;
    for (int64_t ij = 0; ij < square; ++ij) s[ij] += bh[ij];
  }
  act(hooks, n.attn_qact2, scores.data(), score_rows, tokens);

  // Shifted blocks: + mask[window] (0 / -100), in float after attn.qact2 as in the reference.
  if (shift > 0) {
#pragma omp parallel for schedule(static)
    for (int64_t wh = 0; wh < windows * heads; ++wh) {
      float* s = scores.data() + wh * square;
      const float* m = g.mask.data() + ((wh / heads) % nw) * square;
      for (int64_t ij = 0; ij < square; ++ij) s[ij] += m[ij];
    }
  }
  softmax_through(k, hooks, n.attn_softmax, n.attn_qact2, scores.data(), score_rows, tokens);

  // context[w, t, h*dh + j] = sum_s attn[w, h, t, s] v[w, s, h*dh + j], written over win_x.
  k.batched_gemm(windows, heads, tokens, dh, tokens, 1.0f, /*b_transposed=*/false, [&](int64_t wh) {
    const int64_t wi = wh / heads, hi = wh % heads;
    const float* v = qkv.data() + wi * tokens * ld + 2 * c + hi * dh;
    return GemmOperands{scores.data() + wh * square, tokens, v, ld, win_x.data() + wi * tokens * c + hi * dh, c};
  });
  act(hooks, n.attn_qact3, win_x.data(), rows, c);

  auto proj = Tensor::uninitialized({windows, tokens, c});
  k.linear(win_x.data(), rows, c, c, b.proj_weight, &b.proj_bias, proj.data());
  act(hooks, n.attn_qact4, proj.data(), rows, c);

  // Merge windows and undo the cyclic shift, in one pass.
  auto branch = Tensor::uninitialized({batch, res * res, c});
  window_reverse(proj.data(), batch, res, res, c, win, shift, branch.data());
  return branch;
}

void SwinModel::run_block(int stage, int block, Tensor& x, int64_t batch, QuantHooks* hooks,
                          const std::string& last_quantizer) const {
  const FloatKernels& k = kernels();
  const SwinStageGeometry& g = geometry_[static_cast<size_t>(stage)];
  const SwinBlockWeights& b = w_.stages[static_cast<size_t>(stage)].blocks[static_cast<size_t>(block)];
  const BlockNames& n = block_names_[static_cast<size_t>(stage)][static_cast<size_t>(block)];
  const int64_t c = g.dim;
  const int64_t rows = batch * g.resolution * g.resolution;
  const float eps = config_.norm_eps;

  auto h = Tensor::uninitialized({batch, g.resolution * g.resolution, c});
  norm_through(k, hooks, last_quantizer, n.qact1, x.data(), rows, c, b.norm1_weight, b.norm1_bias, eps, h.data());
  act(hooks, n.qact1, h.data(), rows, c);
  const Tensor branch = window_attention(stage, block, h, batch, hooks);
  add_inplace(x.data(), branch.data(), rows * c);
  act(hooks, n.qact2, x.data(), rows, c);

  norm_through(k, hooks, n.qact2, n.qact3, x.data(), rows, c, b.norm2_weight, b.norm2_bias, eps, h.data());
  act(hooks, n.qact3, h.data(), rows, c);
  auto mid = Tensor::uninitialized({rows, g.hidden});
  k.linear(h.data(), rows, c, c, b.fc1_weight, &b.fc1_bias, mid.data());
  k.gelu(mid.data(), mid.numel());
  act(hooks, n.mlp_qact1, mid.data(), rows, g.hidden);
  k.linear(mid.data(), rows, g.hidden, g.hidden, b.fc2_weight, &b.fc2_bias, h.data());
  act(hooks, n.mlp_qact2, h.data(), rows, c);
  add_inplace(x.data(), h.data(), rows * c);
  act(hooks, n.qact4, x.data(), rows, c);
}

Tensor SwinModel::run_merge(int stage, const Tensor& x, int64_t batch, QuantHooks* hooks) const {
  const FloatKernels& k = kernels();
  const SwinStageGeometry& g = geometry_[static_cast<size_t>(stage)];
  const SwinStageWeights& sw = w_.stages[static_cast<size_t>(stage)];
  const MergeNames& n = merge_names_[static_cast<size_t>(stage)];
  const int64_t c = g.dim, res = g.resolution;
  const int64_t rows = batch * (res / 2) * (res / 2);
  const std::string& last = block_names_[static_cast<size_t>(stage)].back().qact4;

  auto cat = Tensor::uninitialized({batch, (res / 2) * (res / 2), 4 * c});
  patch_merge_gather(x.data(), batch, res, res, c, cat.data());
  norm_through(k, hooks, last, n.qact1, cat.data(), rows, 4 * c, sw.merge_norm_weight, sw.merge_norm_bias,
               config_.norm_eps, cat.data());
  act(hooks, n.qact1, cat.data(), rows, 4 * c);
  const int64_t next = sw.merge_reduction.dim(0);
  auto out = Tensor::uninitialized({batch, (res / 2) * (res / 2), next});
  k.linear(cat.data(), rows, 4 * c, 4 * c, sw.merge_reduction, nullptr, out.data());
  act(hooks, n.qact2, out.data(), rows, next);
  return out;
}

Tensor SwinModel::forward(const Tensor& images, QuantHooks* hooks) const {
  const FloatKernels& k = kernels();
  const ThreadLimit thread_limit(k.loop_thread_limit());
  // The stage geometry (windows, masks, merging) is fixed at load for one image size.
  const Shape expected = {images.rank() > 0 ? images.dim(0) : 1, config_.in_chans, config_.img_size, config_.img_size};
  if (images.shape() != expected || expected[0] < 1) {
    fail(config_.architecture, "forward images.shape", shape_to_string(images.shape()),
         "[B >= 1, " + std::to_string(config_.in_chans) + ", " + std::to_string(config_.img_size) + ", " +
             std::to_string(config_.img_size) + "]");
  }
  const int64_t batch = images.dim(0);

  const auto point = [](SwinPoint p) { return swin_point_name(p); };
  // [B, N, C0]
  Tensor x = patch_embed_through(k, hooks, config_.quantize_input, images, w_.patch_weight, w_.patch_bias);
  const int64_t c0 = geometry_.front().dim;
  const int64_t tokens0 = x.dim(1);
  act(hooks, point(SwinPoint::kPatchEmbed), x.data(), batch * tokens0, c0);
  norm_through(k, hooks, point(SwinPoint::kPatchEmbed), point(SwinPoint::kPatchNorm), x.data(), batch * tokens0, c0,
               w_.patch_norm_weight, w_.patch_norm_bias, config_.norm_eps, x.data());
  act(hooks, point(SwinPoint::kPatchNorm), x.data(), batch * tokens0, c0);

  std::string last = point(SwinPoint::kPatchNorm);
  const int stages = static_cast<int>(geometry_.size());
  for (int s = 0; s < stages; ++s) {
    for (int b = 0; b < config_.depths[static_cast<size_t>(s)]; ++b) {
      run_block(s, b, x, batch, hooks, last);
      last = block_names_[static_cast<size_t>(s)][static_cast<size_t>(b)].qact4;
    }
    if (s + 1 < stages) {
      x = run_merge(s, x, batch, hooks);
      last = merge_names_[static_cast<size_t>(s)].qact2;
    }
  }

  // Final LayerNorm on every token, average over tokens, head.
  const int64_t c = geometry_.back().dim;
  const int64_t tokens = x.dim(1);
  norm_through(k, hooks, last, point(SwinPoint::kFinalNorm), x.data(), batch * tokens, c, w_.norm_weight,
               w_.norm_bias, config_.norm_eps, x.data());
  act(hooks, point(SwinPoint::kFinalNorm), x.data(), batch * tokens, c);
  auto pooled = Tensor::uninitialized({batch, c});
  k.mean_over_tokens(x.data(), batch, tokens, c, pooled.data());
  act(hooks, point(SwinPoint::kPooled), pooled.data(), batch, c);

  const int64_t classes = config_.num_classes;
  auto logits = Tensor::uninitialized({batch, classes});
  k.linear(pooled.data(), batch, c, c, w_.head_weight, &w_.head_bias, logits.data());
  act(hooks, point(SwinPoint::kLogits), logits.data(), batch, classes);
  return logits;
}

}  // namespace fqvit
