// The executor: buffers per plan, ops in order, rows split across OpenMP threads. A row's result depends only on
// that row's inputs, so any split gives the same bits (see executor.h).
#include "fqvit/int_exec/executor.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "fqvit/int_exec/op_profile.h"

namespace fqvit {
namespace {

constexpr int64_t kRowBlock = 32;  // at most this many rows per task: a GEMM tile's worth, enough to amortize the call

// Rows [0, rows) in blocks of at most kRowBlock rows. The block count is a multiple of the thread count and the
// blocks even, so no thread gets an extra block at the end (batch 1: 197 rows in 7 blocks of 32 left one of 2
// threads idle for a seventh of each op; now 8 blocks of 25).
struct RowBlocks {
  int64_t rows, block, count;
  explicit RowBlocks(int64_t r) : rows(r) {
    const int64_t threads = omp_get_max_threads();
    const int64_t tasks = (rows + threads * kRowBlock - 1) / (threads * kRowBlock) * threads;
    block = (rows + tasks - 1) / tasks;  // <= kRowBlock
    count = (rows + block - 1) / block;
  }
  int64_t begin(int64_t blk) const { return blk * block; }
  int64_t end(int64_t blk) const { return blk * block + block < rows ? blk * block + block : rows; }
};

// fn(begin, end) over the row blocks of [0, rows), spread over the threads.
template <typename Fn>
void for_row_blocks(int64_t rows, Fn fn) {
  const RowBlocks blocks(rows);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t blk = 0; blk < blocks.count; ++blk) fn(blocks.begin(blk), blocks.end(blk));
}

// Rows [begin, end) of every image's token sequence (tokens = prefix + patches rows per image) before the position
// add, into dst: a prefix token's constant codes, or its patch row rescaled onto the embedding quantizer. EmbedOp and
// EmbedChannelOp share it (their params name the same fields).
template <typename Params>
void token_codes(const Params& e, const uint8_t* patch_codes, int64_t begin, int64_t end, uint8_t* dst) {
  const int64_t tokens = e.prefix + e.patches, dim = e.dim;
  for (int64_t r = begin; r < end; ++r, dst += dim) {
    const int64_t b = r / tokens, t = r % tokens;
    if (t < e.prefix) {
      std::memcpy(dst, e.prefix_codes.data() + t * dim, static_cast<size_t>(dim));
    } else {
      rescale_codes_ref(e.patch_to_embed, patch_codes + (b * e.patches + t - e.prefix) * dim, dim, dst);
    }
  }
}

// fn(r, t, run) over rows [begin, end) cut where an image's sequence ends: run rows from row r, token t of its image.
template <typename Fn>
void for_image_runs(int64_t begin, int64_t end, int64_t tokens, Fn fn) {
  for (int64_t r = begin; r < end;) {
    const int64_t t = r % tokens, run = std::min(end - r, tokens - t);
    fn(r, t, run);
    r += run;
  }
}

// The row-local ops (LayerNorm, linear, fc1 + GELU, residual add): row r of the output depends on row r of the
// inputs only, so a chain of them can run block by block with no barrier in between (IntExecutor::run). One op on
// rows [begin, end) on the calling thread; the profile's nanoseconds go to *ns when ns is not null.
struct RowOpRunner {
  const std::vector<const uint8_t*>& in;
  uint8_t* out;
  int64_t begin, end;
  std::atomic<int64_t>* ns;
  int in0_bytes = 1, out_bytes = 1;  // code width of the first input and of the output (BufferSpec::code_bytes)

  void operator()(const LayerNormOp& p) const {
    const int64_t c = p.params.channels, t0 = ns ? op_profile_now_ns() : 0;
    layer_norm(p.params, in[0] + begin * c, end - begin, out + begin * c);
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  void operator()(const LinearOp& op) const {
    const LinearParams& p = op.params;
    const int64_t t0 = ns ? op_profile_now_ns() : 0;
    gemm_u8s8_requant_u8(*p.weights, end - begin, in[0] + begin * p.in, p.in, p.bias.data(), p.requant(),
                         out + begin * p.out, p.out);
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  void operator()(const MlpUpOp& p) const {  // fc1 with GELU in its epilogue: the int32 sums stay in registers
    const LinearParams& l = p.linear;
    const int64_t t0 = ns ? op_profile_now_ns() : 0;
    linear_gelu(*l.weights, end - begin, in[0] + begin * l.in, l.in, l.bias.data(), p.gelu, out + begin * l.out);
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  void operator()(const ResidualAddOp& p) const {
    const int64_t c = p.params.channels, t0 = ns ? op_profile_now_ns() : 0;
    residual_add(p.params, in[0] + begin * c, in[1] + begin * c, end - begin, out + begin * c);
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  // The fqvit_plus forms (int_ops_plus.h), 16-bit stream buffers where the plan says so.
  void operator()(const LayerNormWideOp& p) const {
    const int64_t c = p.params.channels, t0 = ns ? op_profile_now_ns() : 0;
    if (in0_bytes == 2) {
      layer_norm_wide(p.params, reinterpret_cast<const uint16_t*>(in[0]) + begin * c, end - begin, out + begin * c);
    } else {
      layer_norm_wide(p.params, in[0] + begin * c, end - begin, out + begin * c);
    }
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  void operator()(const LinearChannelOp& op) const {  // the per-channel requantization in the GEMM's epilogue
    const LinearParams& l = op.linear;
    const int64_t t0 = ns ? op_profile_now_ns() : 0;
    if (out_bytes == 2) {  // Swin's patch-merging reduction onto the 16-bit stream
      linear_requantize_channels(*l.weights, end - begin, in[0] + begin * l.in, l.in, l.bias.data(), op.requant,
                                 reinterpret_cast<uint16_t*>(out) + begin * l.out);
    } else {
      linear_requantize_channels(*l.weights, end - begin, in[0] + begin * l.in, l.in, l.bias.data(), op.requant,
                                 out + begin * l.out);
    }
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  void operator()(const MlpUpChannelOp& op) const {  // fc1 with the GELU groups in its epilogue
    const LinearParams& l = op.linear;
    const int64_t t0 = ns ? op_profile_now_ns() : 0;
    linear_gelu_channel(*l.weights, end - begin, in[0] + begin * l.in, l.in, l.bias.data(), op.gelu,
                        out + begin * l.out);
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  void operator()(const ResidualAddChannelOp& op) const {
    const int64_t c = op.params.channels, t0 = ns ? op_profile_now_ns() : 0;
    const uint8_t* b = in[1] + begin * c;
    if (in0_bytes == 2 && out_bytes == 2) {
      residual_add_channel(op.params, reinterpret_cast<const uint16_t*>(in[0]) + begin * c, b, end - begin,
                           reinterpret_cast<uint16_t*>(out) + begin * c);
    } else if (in0_bytes == 1 && out_bytes == 2) {
      residual_add_channel(op.params, in[0] + begin * c, b, end - begin, reinterpret_cast<uint16_t*>(out) + begin * c);
    } else {
      assert(in0_bytes == 1 && out_bytes == 1);
      residual_add_channel(op.params, in[0] + begin * c, b, end - begin, out + begin * c);
    }
    if (ns) *ns += op_profile_now_ns() - t0;
  }
  template <typename T>
  void operator()(const T&) const {
    assert(false && "not a row-local op");
  }
};

bool is_row_local(const PlanOp& op) {
  return std::holds_alternative<LayerNormOp>(op.params) || std::holds_alternative<LinearOp>(op.params) ||
         std::holds_alternative<MlpUpOp>(op.params) || std::holds_alternative<ResidualAddOp>(op.params) ||
         std::holds_alternative<LayerNormWideOp>(op.params) || std::holds_alternative<LinearChannelOp>(op.params) ||
         std::holds_alternative<MlpUpChannelOp>(op.params) || std::holds_alternative<ResidualAddChannelOp>(op.params);
}

// Code widths of an op's first input and its output.
int input0_bytes(const IntPlan& plan, const PlanOp& op) {
  return op.inputs.empty() ? 1 : plan.buffers[static_cast<size_t>(op.inputs[0])].code_bytes;
}
int output_code_bytes(const IntPlan& plan, const PlanOp& op) {
  return op.output < 0 ? 1 : plan.buffers[static_cast<size_t>(op.output)].code_bytes;
}

struct OpRunner {
  const PlanOp& op;
  int64_t batch;
  const std::vector<const uint8_t*>& in;
  void* output;

  uint8_t* out() const { return static_cast<uint8_t*>(output); }

  // Patch rows image by image, then the GEMM and its requantization over row blocks of all images' patches (one
  // image at batch 1 still uses every thread).
  void operator()(const PatchEmbedOp& p) const {
    const PatchInputParams& ip = p.input;
    const int64_t grid = ip.image_size / ip.patch, patches = grid * grid, len = ip.channels * ip.patch * ip.patch;
    const int64_t d = p.weights->n();
    const int64_t pixels_per_image = ip.channels * ip.image_size * ip.image_size;
    std::vector<uint8_t> patch_rows(static_cast<size_t>(batch * patches * len));
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      patch_rows_ref(ip, in[0] + b * pixels_per_image, patch_rows.data() + b * patches * len);
    }
    for_row_blocks(batch * patches, [&](int64_t begin, int64_t end) {
      thread_local std::vector<int32_t> acc;
      acc.resize(static_cast<size_t>((end - begin) * d));
      gemm_u8s8s32(*p.weights, end - begin, patch_rows.data() + begin * len, len, nullptr, acc.data(), d);
      requantize_accumulators_ref(p.requant, acc.data(), end - begin, d, out() + begin * d);
    });
  }
  // embed_tokens_ref by row blocks of every image's tokens: a token's codes depend on its own patch row only.
  void operator()(const EmbedOp& p) const {
    const EmbedParams& e = p.params;
    const int64_t tokens = e.prefix + e.patches, dim = e.dim;
    for_row_blocks(batch * tokens, [&](int64_t begin, int64_t end) {
      thread_local std::vector<uint8_t> embed;
      embed.resize(static_cast<size_t>((end - begin) * dim));
      token_codes(e, in[0], begin, end, embed.data());
      // The position codes of rows [begin, end) of each image, one image's run of rows at a time.
      for_image_runs(begin, end, tokens, [&](int64_t r, int64_t t, int64_t run) {
        residual_add(e.add_pos, embed.data() + (r - begin) * dim, e.pos_codes.data() + t * dim, run, out() + r * dim);
      });
    });
  }
  void operator()(const LayerNormOp& p) const { rows(p); }
  void operator()(const LinearOp& p) const { rows(p); }
  void operator()(const AttentionOp& p) const {
    const AttentionParams& a = p.params;
    const int64_t dim = a.heads * a.head_dim;
    attention_tasks(a, [&](int64_t b, int64_t h, int64_t t0, int64_t t1, AttentionScratch& scratch) {
      attention_head_rows(a, in[0] + b * a.tokens * 3 * dim, h, t0, t1, scratch, out() + b * a.tokens * dim);
    });
  }
  // fn(image, head, t0, t1, scratch) over tasks of query rows of one head, spread over the threads.
  template <typename Fn>
  void attention_tasks(const AttentionParams& a, Fn fn) const {
    // Tasks of query rows of one head: whole heads when their count is a multiple of the threads, else each head
    // cut into the fewest row chunks that make it one (batch 1: 3 heads on 2 threads would leave one idle for a
    // third of the time; 2 chunks each make 6 tasks). Each task packs its head's K and V again, so no more chunks.
    const int64_t pairs = batch * a.heads, threads = omp_get_max_threads();
    int64_t chunks = 1;
    while (chunks < threads && (pairs * chunks) % threads != 0) ++chunks;
    const int64_t rows = ((a.tokens + chunks - 1) / chunks + 3) / 4 * 4;  // whole 4-row blocks per chunk
    const int64_t per_head = (a.tokens + rows - 1) / rows;
#pragma omp parallel
    {
      AttentionScratch scratch;
#pragma omp for schedule(dynamic, 1)
      for (int64_t task = 0; task < pairs * per_head; ++task) {
        const int64_t bh = task / per_head, t0 = task % per_head * rows;
        const int64_t b = bh / a.heads, h = bh % a.heads, t1 = t0 + rows < a.tokens ? t0 + rows : a.tokens;
        fn(b, h, t0, t1, scratch);
      }
    }
  }
  void operator()(const MlpUpOp& p) const { rows(p); }
  void operator()(const ResidualAddOp& p) const { rows(p); }
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
    const int64_t in_size = g.in_rows * g.row_bytes(), out_size = g.out_rows * g.group * g.row_bytes();
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) gather_rows(g, in[0] + b * in_size, out() + b * out_size);
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
    for (int64_t b = 0; b < batch; ++b) token_mean(m, in[0] + b * m.tokens * m.channels, out() + b * m.channels);
  }
  void operator()(const SwinAttentionChannelOp& p) const {
    const SwinAttentionParams& s = p.params;
    const AttentionParams& a = s.attention;
    const int64_t dim = a.heads * a.head_dim, windows = batch * s.windows;
#pragma omp parallel
    {
      AttentionScratch scratch;
#pragma omp for schedule(dynamic, 1)
      for (int64_t wh = 0; wh < windows * a.heads; ++wh) {
        const int64_t w = wh / a.heads;
        swin_attention_head_channel(s, p.context, in[0] + w * a.tokens * 3 * dim, w % s.windows, wh % a.heads,
                                    scratch, out() + w * a.tokens * dim);
      }
    }
  }
  void operator()(const TokenMeanChannelOp& p) const {
    const TokenMeanChannelParams& m = p.params;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      token_mean_channel(m, in[0] + b * m.tokens * m.channels, out() + b * m.channels);
    }
  }

  // A row-local op over all rows, block by block on the threads.
  template <typename T>
  void rows(const T& p) const {
    for_row_blocks(batch * rows_per_image(), [&](int64_t begin, int64_t end) {
      RowOpRunner{in, out(), begin, end, nullptr, input0_bytes(*plan, op), output_code_bytes(*plan, op)}(p);
    });
  }

  // The fqvit_plus forms (int_ops_plus.h); 16-bit stream buffers where the plan says so.
  // embed_tokens_channel_ref by row blocks of every image's tokens, as EmbedOp: a token's codes depend on its own
  // patch row only; the position add on the dispatching kernel, onto 16-bit codes where the plan says so.
  void operator()(const EmbedChannelOp& p) const {
    const EmbedChannelParams& e = p.params;
    const int64_t tokens = e.prefix + e.patches, dim = e.dim;
    const bool wide = output_bytes() == 2;
    for_row_blocks(batch * tokens, [&](int64_t begin, int64_t end) {
      thread_local std::vector<uint8_t> embed;
      embed.resize(static_cast<size_t>((end - begin) * dim));
      token_codes(e, in[0], begin, end, embed.data());
      for_image_runs(begin, end, tokens, [&](int64_t r, int64_t t, int64_t run) {
        const uint8_t* a = embed.data() + (r - begin) * dim;
        if (wide) {
          residual_add_channel(e.add_pos, a, e.pos_codes.data() + t * dim, run,
                               static_cast<uint16_t*>(output) + r * dim);
        } else {
          residual_add_channel(e.add_pos, a, e.pos_codes.data() + t * dim, run, out() + r * dim);
        }
      });
    });
  }
  void operator()(const LayerNormWideOp& p) const { rows(p); }
  void operator()(const LinearChannelOp& p) const { rows(p); }
  void operator()(const AttentionChannelOp& p) const {
    const AttentionParams& a = p.params;
    const int64_t dim = a.heads * a.head_dim, t2 = a.tokens * a.tokens;
    if (attention_rows_channel_supported(a, p.context)) {  // the paper's fused rows kernel, per-channel context
      return attention_tasks(a, [&](int64_t b, int64_t h, int64_t t0, int64_t t1, AttentionScratch&) {
        attention_rows_channel(a, p.context, in[0] + b * a.tokens * 3 * dim, h, t0, t1, out() + b * a.tokens * dim);
      });
    }
#pragma omp parallel
    {
      std::vector<uint8_t> logits(static_cast<size_t>(t2)), probs(static_cast<size_t>(t2));
      std::vector<int32_t> exp(static_cast<size_t>(a.tokens));
#pragma omp for schedule(dynamic, 1)
      for (int64_t bh = 0; bh < batch * a.heads; ++bh) {
        const int64_t b = bh / a.heads, h = bh % a.heads;
        const uint8_t* qkv = in[0] + b * a.tokens * 3 * dim;
        attention_logits(a, qkv, h, logits.data());
        for (int64_t t = 0; t < a.tokens; ++t) {
          softmax_row(a, logits.data() + t * a.tokens, exp.data(), probs.data() + t * a.tokens);
        }
        attention_context_channel_ref(a, p.context, probs.data(), qkv, h, out() + b * a.tokens * dim);
      }
    }
  }
  void operator()(const MlpUpChannelOp& p) const { rows(p); }
  void operator()(const ResidualAddChannelOp& p) const { rows(p); }

  int input_bytes(size_t i) const { return plan->buffers[static_cast<size_t>(op.inputs[i])].code_bytes; }
  int output_bytes() const { return plan->buffers[static_cast<size_t>(op.output)].code_bytes; }
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
        if constexpr (std::is_same_v<T, AttentionOp>) return "attention";
        if constexpr (std::is_same_v<T, MlpUpOp>) return "gemm.fc1+gelu";  // GELU is the GEMM's epilogue
        if constexpr (std::is_same_v<T, RowGatherOp>) return "gather";
        if constexpr (std::is_same_v<T, SwinAttentionOp>) return "window_attention";
        if constexpr (std::is_same_v<T, TokenMeanOp>) return "token_mean";
        if constexpr (std::is_same_v<T, LayerNormWideOp>) return "layer_norm";
        if constexpr (std::is_same_v<T, LinearChannelOp>) return "gemm." + role;
        if constexpr (std::is_same_v<T, ResidualAddChannelOp>) return "residual_add";
        if constexpr (std::is_same_v<T, EmbedChannelOp>) return "embed";
        if constexpr (std::is_same_v<T, AttentionChannelOp>) return "attention";
        if constexpr (std::is_same_v<T, MlpUpChannelOp>) return "gemm.fc1+gelu";  // GELU groups in the epilogue
        if constexpr (std::is_same_v<T, SwinAttentionChannelOp>) return "window_attention";
        if constexpr (std::is_same_v<T, TokenMeanChannelOp>) return "token_mean";
        return "";
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

// Activation memory of a run: a buffer lives from the op that writes it to the last op that reads it, then goes
// back to a free list that later ops (and later runs on the same thread) draw from (smallest block that fits), so
// only the live set is resident (a block's few activations, not all of the network's). Blocks are not zeroed: every
// op writes all of its output.
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
  void give_back_all() {
    while (!live_.empty()) give_back(live_.begin()->first);
  }

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
  const bool profile = op_profile_enabled();
  // The calling thread's pool, kept from run to run: its blocks stay mapped, so a run does not page-fault its
  // activations in again (about 800 faults, 3 MB, per ViT-Tiny batch of 8 with a fresh pool). Every buffer is
  // given back by the end of a run (each is read by a later op, and the last op writes the scores).
  thread_local BufferPool pool;
  for (size_t i = 0; i < plan.ops.size();) {
    // A segment: one op, or a run of row-local ops over the same rows (a transformer block's proj -> add ->
    // LayerNorm -> fc1 + GELU -> fc2 -> add -> LayerNorm -> qkv), which runs block by block in one parallel loop:
    // each thread takes a block of rows through every op of the segment (its rows stay in L1 / L2), and no thread
    // waits for another between ops. Same bits: every op computes the same rows either way.
    size_t end = i + 1;
    const bool row_local = is_row_local(plan.ops[i]);
    const int64_t rows = row_local ? plan.buffers[static_cast<size_t>(plan.ops[i].output)].rows : 0;
    if (row_local) {
      while (end < plan.ops.size() && is_row_local(plan.ops[end]) &&
             plan.buffers[static_cast<size_t>(plan.ops[end].output)].rows == rows) {
        ++end;
      }
    }
    std::vector<std::vector<const uint8_t*>> inputs(end - i);
    std::vector<void*> outputs(end - i, scores);
    for (size_t j = i; j < end; ++j) {
      const PlanOp& op = plan.ops[j];
      if (std::holds_alternative<PatchEmbedOp>(op.params)) inputs[j - i].push_back(pixels);
      for (int id : op.inputs) inputs[j - i].push_back(pool.get(id));
      if (!std::holds_alternative<HeadOp>(op.params)) {
        const BufferSpec& spec = plan.buffers[static_cast<size_t>(op.output)];
        outputs[j - i] = pool.take(op.output, batch * spec.rows * spec.cols * spec.code_bytes);
      }
    }
    const int64_t start = profile ? op_profile_now_ns() : 0;
    if (!row_local) {
      run_op(plan, plan.ops[i], batch, inputs[0], outputs[0]);
      if (profile && !profile_kind(plan.ops[i]).empty()) {
        op_profile_add(profile_kind(plan.ops[i]), op_profile_now_ns() - start);
      }
    } else {
      // The profile's nanoseconds per op, summed over the threads.
      std::vector<std::atomic<int64_t>> ns(end - i);
      const RowBlocks blocks(batch * rows);
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t blk = 0; blk < blocks.count; ++blk) {
        for (size_t j = i; j < end; ++j) {
          RowOpRunner runner{inputs[j - i],        static_cast<uint8_t*>(outputs[j - i]),
                             blocks.begin(blk),    blocks.end(blk),
                             profile ? &ns[j - i] : nullptr, input0_bytes(plan, plan.ops[j]),
                             output_code_bytes(plan, plan.ops[j])};
          std::visit(runner, plan.ops[j].params);
        }
      }
      if (profile) {  // the segment's wall time, split between its ops as the threads' time in them
        const int64_t wall = op_profile_now_ns() - start;
        int64_t busy = 0;
        for (const auto& v : ns) busy += v;
        for (size_t j = i; j < end; ++j) {
          const int64_t t = ns[j - i];
          if (busy > 0) op_profile_add(profile_kind(plan.ops[j]), wall / busy * t + wall % busy * t / busy);
        }
      }
    }
    for (size_t j = i; j < end; ++j) {
      for (int id : plan.ops[j].inputs) {
        if (last_read[static_cast<size_t>(id)] < end) pool.give_back(id);
      }
    }
    i = end;
  }
  pool.give_back_all();  // buffers no op read (none in our plans) go back too
}

}  // namespace fqvit
