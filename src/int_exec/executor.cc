// The executor: buffers per plan, ops in order, rows split across OpenMP threads. A row's result depends only on
// that row's inputs, so any split gives the same bits (see executor.h).
#include "fqvit/int_exec/executor.h"

#include <omp.h>

#include <cassert>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <type_traits>

#include "fqvit/int_exec/op_profile.h"

namespace fqvit {
namespace {

constexpr int64_t kRowBlock = 32;  // at most this many rows per task: a GEMM tile's worth, enough to amortize the call

// fn(begin, end) over [0, rows) in blocks of at most kRowBlock rows, spread over the threads. The block count is a
// multiple of the thread count and the blocks even, so no thread gets an extra block at the end (batch 1: 197 rows
// in 7 blocks of 32 left one of 2 threads idle for a seventh of each op; now 8 blocks of 25).
template <typename Fn>
void for_row_blocks(int64_t rows, Fn fn) {
  const int64_t threads = omp_get_max_threads();
  const int64_t rounds = (rows + threads * kRowBlock - 1) / (threads * kRowBlock);
  const int64_t tasks = rounds * threads;
  const int64_t block = (rows + tasks - 1) / tasks;  // <= kRowBlock
  const int64_t blocks = (rows + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t begin = blk * block;
    const int64_t end = begin + block < rows ? begin + block : rows;
    fn(begin, end);
  }
}

void run_linear(const LinearParams& p, int64_t rows, const uint8_t* in, uint8_t* out) {
  const RequantParams rq = p.requant();
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    gemm_u8s8_requant_u8(*p.weights, end - begin, in + begin * p.in, p.in, p.bias.data(), rq, out + begin * p.out,
                         p.out);
  });
}

struct OpRunner {
  const PlanOp& op;
  int64_t batch;
  const std::vector<const uint8_t*>& in;
  void* output;

  uint8_t* out() const { return static_cast<uint8_t*>(output); }

  void operator()(const PatchEmbedOp& p) const {
    const PatchInputParams& ip = p.input;
    const int64_t grid = ip.image_size / ip.patch, patches = grid * grid, len = ip.channels * ip.patch * ip.patch;
    const int64_t d = p.weights->n();
    const int64_t pixels_per_image = ip.channels * ip.image_size * ip.image_size;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<uint8_t> rows(static_cast<size_t>(patches * len));
      std::vector<int32_t> acc(static_cast<size_t>(patches * d));
      patch_rows_ref(ip, in[0] + b * pixels_per_image, rows.data());
      gemm_u8s8s32(*p.weights, patches, rows.data(), len, nullptr, acc.data(), d);
      requantize_accumulators_ref(p.requant, acc.data(), patches, d, out() + b * patches * d);
    }
  }
  void operator()(const EmbedOp& p) const {
    const EmbedParams& e = p.params;
    const int64_t tokens = e.prefix + e.patches;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      embed_tokens_ref(e, in[0] + b * e.patches * e.dim, out() + b * tokens * e.dim);
    }
  }
  void operator()(const LayerNormOp& p) const {
    const int64_t rows = batch * rows_per_image();
    for_row_blocks(rows, [&](int64_t begin, int64_t end) {
      layer_norm(p.params, in[0] + begin * p.params.channels, end - begin, out() + begin * p.params.channels);
    });
  }
  void operator()(const LinearOp& p) const { run_linear(p.params, batch * rows_per_image(), in[0], out()); }
  void operator()(const AttentionOp& p) const {
    const AttentionParams& a = p.params;
    const int64_t dim = a.heads * a.head_dim;
    if (op_profile_enabled()) return attention_by_stages(a);
    // Tasks of query rows of one head: whole heads when there are enough of them to keep every thread busy, else
    // each head cut into row chunks (batch 1: 3 heads on 2 threads would leave one idle for a third of the time).
    const int64_t pairs = batch * a.heads, threads = omp_get_max_threads();
    const int64_t chunks = pairs >= 8 * threads ? 1 : (8 * threads + pairs - 1) / pairs;
    const int64_t rows = ((a.tokens + chunks - 1) / chunks + 3) / 4 * 4;  // whole 4-row blocks per chunk
    const int64_t per_head = (a.tokens + rows - 1) / rows;
#pragma omp parallel
    {
      AttentionScratch scratch;
#pragma omp for schedule(dynamic, 1)
      for (int64_t task = 0; task < pairs * per_head; ++task) {
        const int64_t bh = task / per_head, t0 = task % per_head * rows;
        const int64_t b = bh / a.heads, h = bh % a.heads, t1 = t0 + rows < a.tokens ? t0 + rows : a.tokens;
        attention_head_rows(a, in[0] + b * a.tokens * 3 * dim, h, t0, t1, scratch, out() + b * a.tokens * dim);
      }
    }
  }
  void operator()(const MlpUpOp& p) const {
    const LinearParams& l = p.linear;
    if (op_profile_enabled()) return mlp_up_by_stages(p);
    for_row_blocks(batch * rows_per_image(), [&](int64_t begin, int64_t end) {
      // One block's accumulators (32 x 768 int32 for ViT-Tiny: 96 KB, stays in L2), reused, never zero-filled.
      thread_local std::vector<int32_t> acc;
      if (acc.size() < static_cast<size_t>((end - begin) * l.out)) acc.resize(static_cast<size_t>(kRowBlock * l.out));
      gemm_u8s8s32(*l.weights, end - begin, in[0] + begin * l.in, l.in, l.bias.data(), acc.data(), l.out);
      gelu(p.gelu, acc.data(), end - begin, out() + begin * l.out);
    });
  }
  void operator()(const ResidualAddOp& p) const {
    const int64_t c = p.params.channels;
    for_row_blocks(batch * rows_per_image(), [&](int64_t begin, int64_t end) {
      residual_add(p.params, in[0] + begin * c, in[1] + begin * c, end - begin, out() + begin * c);
    });
  }
  void operator()(const HeadOp& p) const {
    auto* scores = static_cast<int32_t*>(output);
    const int64_t classes = p.head.out;
    const bool two = p.scores.two_heads;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      const uint8_t* tokens = in[0] + b * p.tokens * p.dim;
      std::vector<uint8_t> a(static_cast<size_t>(classes)), d(static_cast<size_t>(two ? classes : 0));
      gemm_u8s8_requant_u8(*p.head.weights, 1, tokens, p.dim, p.head.bias.data(), p.head.requant(), a.data(),
                           classes);
      if (two) {
        gemm_u8s8_requant_u8(*p.head_dist.weights, 1, tokens + p.dim, p.dim, p.head_dist.bias.data(),
                             p.head_dist.requant(), d.data(), classes);
      }
      class_scores_ref(p.scores, a.data(), two ? d.data() : nullptr, classes, scores + b * classes);
    }
  }

  void operator()(const RowGatherOp& p) const {
    const RowGatherParams& g = p.params;
    const int64_t in_size = g.in_rows * g.cols, out_size = g.out_rows * g.group * g.cols;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) gather_rows_ref(g, in[0] + b * in_size, out() + b * out_size);
  }
  void operator()(const SwinAttentionOp& p) const {
    const SwinAttentionParams& s = p.params;
    const AttentionParams& a = s.attention;
    const int64_t dim = a.heads * a.head_dim, windows = batch * s.windows;
#pragma omp parallel
    {
      AttentionScratch scratch;
#pragma omp for schedule(dynamic, 1)
      for (int64_t wh = 0; wh < windows * a.heads; ++wh) {
        const int64_t w = wh / a.heads;
        swin_attention_head(s, in[0] + w * a.tokens * 3 * dim, w % s.windows, wh % a.heads, scratch,
                            out() + w * a.tokens * dim);
      }
    }
  }
  void operator()(const TokenMeanOp& p) const {
    const TokenMeanParams& m = p.params;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) token_mean_ref(m, in[0] + b * m.tokens * m.channels, out() + b * m.channels);
  }

  // The profile's forms (op_profile.h): each stage over all rows or heads, timed on its own; same bits.
  void attention_by_stages(const AttentionParams& a) const {
    const int64_t dim = a.heads * a.head_dim, t2 = a.tokens * a.tokens, pairs = batch * a.heads;
    std::vector<uint8_t> logits(static_cast<size_t>(pairs * t2)), probs(logits.size());
    {
      OpTimer timer("attention.q_kT");
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t bh = 0; bh < pairs; ++bh) {
        attention_logits(a, in[0] + bh / a.heads * a.tokens * 3 * dim, bh % a.heads, logits.data() + bh * t2);
      }
    }
    {
      OpTimer timer("attention.softmax");
#pragma omp parallel
      {
        std::vector<int32_t> exp(static_cast<size_t>(a.tokens));
#pragma omp for schedule(dynamic, 1)
        for (int64_t bh = 0; bh < pairs; ++bh) {
          for (int64_t t = 0; t < a.tokens; ++t) {
            softmax_row(a, logits.data() + bh * t2 + t * a.tokens, exp.data(), probs.data() + bh * t2 + t * a.tokens);
          }
        }
      }
    }
    OpTimer timer("attention.attn_v");
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < pairs; ++bh) {
      const int64_t b = bh / a.heads;
      attention_context(a, probs.data() + bh * t2, in[0] + b * a.tokens * 3 * dim, bh % a.heads,
                            out() + b * a.tokens * dim);
    }
  }
  void mlp_up_by_stages(const MlpUpOp& p) const {
    const LinearParams& l = p.linear;
    const int64_t rows = batch * rows_per_image();
    std::vector<int32_t> acc(static_cast<size_t>(rows * l.out));
    {
      OpTimer timer("gemm.fc1");
      for_row_blocks(rows, [&](int64_t begin, int64_t end) {
        gemm_u8s8s32(*l.weights, end - begin, in[0] + begin * l.in, l.in, l.bias.data(), acc.data() + begin * l.out,
                     l.out);
      });
    }
    OpTimer timer("gelu");
    for_row_blocks(rows, [&](int64_t begin, int64_t end) {
      gelu(p.gelu, acc.data() + begin * l.out, end - begin, out() + begin * l.out);
    });
  }

  int64_t rows_per_image() const;
  const IntPlan* plan = nullptr;
};

// The profile's name of an op: its kind, and for a GEMM the layer's role (qkv, proj, fc2, head).
std::string profile_kind(const PlanOp& op) {
  const std::string role = op.name.substr(op.name.rfind('.') + 1);
  return std::visit(
      [&](const auto& p) -> std::string {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, PatchEmbedOp>) return "patch_embed";
        if constexpr (std::is_same_v<T, EmbedOp>) return "embed";
        if constexpr (std::is_same_v<T, LayerNormOp>) return "layer_norm";
        if constexpr (std::is_same_v<T, LinearOp>) return "gemm." + role;
        if constexpr (std::is_same_v<T, ResidualAddOp>) return "residual_add";
        if constexpr (std::is_same_v<T, HeadOp>) return "head";
        if constexpr (std::is_same_v<T, RowGatherOp>) return "gather";
        if constexpr (std::is_same_v<T, SwinAttentionOp>) return "window_attention";
        if constexpr (std::is_same_v<T, TokenMeanOp>) return "token_mean";
        return "";  // attention and fc1 + GELU time their stages themselves
      },
      op.params);
}

int64_t OpRunner::rows_per_image() const { return plan->buffers[static_cast<size_t>(op.output)].rows; }

}  // namespace

void run_op(const IntPlan& plan, const PlanOp& op, int64_t batch, const std::vector<const uint8_t*>& inputs,
            void* output) {
  OpRunner runner{op, batch, inputs, output};
  runner.plan = &plan;
  std::visit(runner, op.params);
}

namespace {

// Activation memory of one run: a buffer lives from the op that writes it to the last op that reads it, then goes
// back to a free list that later ops draw from (smallest block that fits), so only the live set is resident (a
// block's few activations, not all of the network's). Blocks are not zeroed: every op writes all of its output.
class BufferPool {
 public:
  uint8_t* take(int id, int64_t bytes) {
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].bytes >= bytes && (best == free_.size() || free_[i].bytes < free_[best].bytes)) best = i;
    }
    Block block;
    if (best < free_.size()) {
      block = std::move(free_[best]);
      free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
    } else {
      block.data.reset(new uint8_t[static_cast<size_t>(bytes)]);
      block.bytes = bytes;
    }
    live_[id] = std::move(block);
    return live_[id].data.get();
  }
  void give_back(int id) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    free_.push_back(std::move(it->second));
    live_.erase(it);
  }
  const uint8_t* get(int id) const { return live_.at(id).data.get(); }

 private:
  struct Block {
    std::unique_ptr<uint8_t[]> data;
    int64_t bytes = 0;
  };
  std::map<int, Block> live_;
  std::vector<Block> free_;
};

}  // namespace

void IntExecutor::run(const uint8_t* pixels, int64_t batch, int32_t* scores) const {
  const IntPlan& plan = *plan_;
  std::vector<size_t> last_read(plan.buffers.size(), 0);
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    for (int id : plan.ops[i].inputs) last_read[static_cast<size_t>(id)] = i;
  }
  BufferPool pool;
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const PlanOp& op = plan.ops[i];
    std::vector<const uint8_t*> inputs;
    if (std::holds_alternative<PatchEmbedOp>(op.params)) inputs.push_back(pixels);
    for (int id : op.inputs) inputs.push_back(pool.get(id));
    void* out = scores;
    if (!std::holds_alternative<HeadOp>(op.params)) {
      const BufferSpec& spec = plan.buffers[static_cast<size_t>(op.output)];
      out = pool.take(op.output, batch * spec.rows * spec.cols);
    }
    if (!op_profile_enabled()) {
      run_op(plan, op, batch, inputs, out);
    } else {
      const std::string kind = profile_kind(op);
      const int64_t start = op_profile_now_ns();
      run_op(plan, op, batch, inputs, out);
      if (!kind.empty()) op_profile_add(kind, op_profile_now_ns() - start);
    }
    for (int id : op.inputs) {
      if (last_read[static_cast<size_t>(id)] == i) pool.give_back(id);
    }
  }
}

}  // namespace fqvit
