// The executor: buffers per plan, ops in order, rows split across OpenMP threads. A row's result depends only on
// that row's inputs, so any split gives the same bits (see executor.h).
#include "fqvit/int_exec/executor.h"

#include <cassert>
#include <cstring>

namespace fqvit {
namespace {

constexpr int64_t kRowBlock = 32;  // rows per task: a GEMM tile's worth, enough to amortize the call

// fn(begin, end) over [0, rows) in fixed blocks, spread over the threads.
template <typename Fn>
void for_row_blocks(int64_t rows, Fn fn) {
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t begin = blk * kRowBlock;
    const int64_t end = begin + kRowBlock < rows ? begin + kRowBlock : rows;
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
      layer_norm_ref(p.params, in[0] + begin * p.params.channels, end - begin, out() + begin * p.params.channels);
    });
  }
  void operator()(const LinearOp& p) const { run_linear(p.params, batch * rows_per_image(), in[0], out()); }
  void operator()(const AttentionOp& p) const {
    const AttentionParams& a = p.params;
    const int64_t dim = a.heads * a.head_dim;
#pragma omp parallel
    {
      AttentionScratch scratch;
#pragma omp for schedule(dynamic, 1)
      for (int64_t bh = 0; bh < batch * a.heads; ++bh) {
        const int64_t b = bh / a.heads, h = bh % a.heads;
        attention_head_ref(a, in[0] + b * a.tokens * 3 * dim, h, scratch, out() + b * a.tokens * dim);
      }
    }
  }
  void operator()(const MlpUpOp& p) const {
    const LinearParams& l = p.linear;
    for_row_blocks(batch * rows_per_image(), [&](int64_t begin, int64_t end) {
      std::vector<int32_t> acc(static_cast<size_t>((end - begin) * l.out));
      gemm_u8s8s32(*l.weights, end - begin, in[0] + begin * l.in, l.in, l.bias.data(), acc.data(), l.out);
      gelu_ref(p.gelu, acc.data(), end - begin, out() + begin * l.out);
    });
  }
  void operator()(const ResidualAddOp& p) const {
    const int64_t c = p.params.channels;
    for_row_blocks(batch * rows_per_image(), [&](int64_t begin, int64_t end) {
      residual_add_ref(p.params, in[0] + begin * c, in[1] + begin * c, end - begin, out() + begin * c);
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

  int64_t rows_per_image() const;
  const IntPlan* plan = nullptr;
};

int64_t OpRunner::rows_per_image() const { return plan->buffers[static_cast<size_t>(op.output)].rows; }

}  // namespace

void run_op(const IntPlan& plan, const PlanOp& op, int64_t batch, const std::vector<const uint8_t*>& inputs,
            void* output) {
  OpRunner runner{op, batch, inputs, output};
  runner.plan = &plan;
  std::visit(runner, op.params);
}

void IntExecutor::run(const uint8_t* pixels, int64_t batch, int32_t* scores) const {
  const IntPlan& plan = *plan_;
  std::vector<std::vector<uint8_t>> buffers(plan.buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    buffers[i].resize(static_cast<size_t>(batch * plan.buffers[i].rows * plan.buffers[i].cols));
  }
  for (const PlanOp& op : plan.ops) {
    std::vector<const uint8_t*> inputs;
    if (std::holds_alternative<PatchEmbedOp>(op.params)) inputs.push_back(pixels);
    for (int id : op.inputs) inputs.push_back(buffers[static_cast<size_t>(id)].data());
    void* out = std::holds_alternative<HeadOp>(op.params) ? static_cast<void*>(scores)
                                                          : buffers[static_cast<size_t>(op.output)].data();
    run_op(plan, op, batch, inputs, out);
  }
}

}  // namespace fqvit
