// Op by op, teacher-forced: every integer op of the plan gets the integer codes the fake-quant path (torch
// numerics) produced at its input points, and its output codes are compared with the fake-quant codes of its output
// point. Exact-arithmetic ops (GEMMs, rescales, residual adds, attention logits and context) must agree on at least
// 99% of values and never differ by more than 1 LSB (the fake path rounds float32 products and sums, we round the
// exact value). Approximating ops have their own stated bounds below: the integer LayerNorm (the reference's float32
// sums of squares lose bits above 2^24, our int64 sums and integer square root do not), GELU (float erf vs the exact
// threshold tables) and the softmaxes (Log-Int-Softmax: same i-exp, exact int64 denominator vs a float32 sum, and
// our int32-safe shift n vs the file's; uniform 8-bit: i-exp instead of exp).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "fqvit/int_exec/executor.h"
#include "fqvit/lower/lower.h"
#include "int_test_support.h"

namespace fqvit {
namespace {

constexpr double kExactMinAgreement = 0.99;  // share of equal codes, exact-arithmetic ops
constexpr int kExactMaxDiff = 1;             // LSB
constexpr double kLayerNormMinAgreement = 0.97;
constexpr int kLayerNormMaxDiff = 1;
constexpr double kGeluMinAgreement = 0.99;
constexpr int kGeluMaxDiff = 1;
constexpr double kLisMinAgreement = 0.99;    // log2 codes
constexpr int kLisMaxDiff = 1;
constexpr double kUniformSoftmaxMinAgreement = 0.90;  // uint8 probabilities through i-exp
constexpr int kUniformSoftmaxMaxDiff = 3;
constexpr double kMinCosine = 0.999;  // of (code - zero point), every op
// The whole attention op chains the softmax into the context: one log2 code flipped on a dominant weight (a
// factor 2) moves that context value by up to half its range, so only the share and the cosine are tight there.
// Each stage fed the fake codes (logits, softmax, context) is held to its own bound below.
constexpr double kAttentionMinAgreement = 0.98;
constexpr int kAttentionMaxDiff = 128;
constexpr double kAttentionMinCosine = 0.999;
// fqvit_plus puts attn x V on per-channel scales s1 2^alpha_c (channel_inputs attn_v): most channels are finer than
// the per-tensor scale, so the same flipped log2 weight moves more of them by a code (ViT-Tiny: 97.7-99.99% equal,
// its stages 99.7-100% each).
constexpr double kAttentionChannelMinAgreement = 0.97;

// The cost of the int32-safe i-exp shift: our codes (n = the lowering's choice, 22..25 on ViT-Tiny) against the same
// integer Log-Int-Softmax with the reference's n = 30 computed in int64 (which int32 cannot hold).
constexpr double kShiftMinAgreement = 0.9999;
// With refined logits (lis_logits refined) i-exp's c is near 2^14, so the int32-safe shift is n = 16 (the least
// 4-bit LIS allows): the clamp at n x0 and the floors cost more codes (ViT-Tiny fqvit_plus: 99.967%, max 1 LSB).
constexpr double kRefinedShiftMinAgreement = 0.999;

// Log-Int-Softmax codes of one row with i-exp shift n, in int64 (the n = 30 baseline).
void lis_row_int64(const AttentionParams& a, const uint8_t* logits, int n, uint8_t* codes) {
  const int64_t t_count = a.tokens;
  int64_t row_max = 0, sum = 0;
  std::vector<int64_t> e(static_cast<size_t>(t_count));
  for (int64_t s = 0; s < t_count; ++s) row_max = std::max<int64_t>(row_max, logits[s]);
  for (int64_t s = 0; s < t_count; ++s) {
    const int64_t x = std::max<int64_t>((logits[s] - row_max) * (int64_t{1} << a.logit_shift), int64_t{n} * a.exp.x0);
    const int64_t q = x / a.exp.x0, r = x - q * a.exp.x0;
    e[static_cast<size_t>(s)] = (r * (r + a.exp.b) + a.exp.c) << (n - q);
    sum += e[static_cast<size_t>(s)];
  }
  const int64_t zero = int64_t{1} << a.log2_bits;
  for (int64_t s = 0; s < t_count; ++s) {
    const int64_t ei = e[static_cast<size_t>(s)];
    const auto v = static_cast<uint64_t>((2 * sum + ei) / (2 * ei));
    int64_t k = static_cast<int64_t>(std::bit_width(v)) - 1;
    if (2 * (v - (uint64_t{1} << k)) >= (uint64_t{1} << k)) ++k;
    codes[s] = static_cast<uint8_t>(std::min(k, zero));
  }
}

struct Stats {
  int64_t n = 0, equal = 0;
  int max_diff = 0;
  double dot = 0, aa = 0, bb = 0;
  void add(int a, int b, int zp) {
    ++n;
    equal += a == b;
    max_diff = std::max(max_diff, std::abs(a - b));
    dot += double(a - zp) * (b - zp), aa += double(a - zp) * (a - zp), bb += double(b - zp) * (b - zp);
  }
  double agreement() const { return n ? double(equal) / double(n) : 1.0; }
  double cosine() const { return aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0); }
};

struct Bound {
  double agreement;
  int diff;
  double cosine = kMinCosine;
};

void check(const std::string& what, const Stats& s, Bound b) {
  std::printf("  %-34s %9lld values  equal %7.3f%%  max diff %d  cosine %.6f\n", what.c_str(),
              static_cast<long long>(s.n), 100.0 * s.agreement(), s.max_diff, s.cosine());
  EXPECT_GE(s.agreement(), b.agreement) << what;
  EXPECT_LE(s.max_diff, b.diff) << what;
  EXPECT_GE(s.cosine(), b.cosine) << what;
}

Bound bound_of(const OpParams& p) {
  if (std::holds_alternative<LayerNormOp>(p) || std::holds_alternative<LayerNormWideOp>(p)) {
    return {kLayerNormMinAgreement, kLayerNormMaxDiff};
  }
  if (std::holds_alternative<MlpUpOp>(p) || std::holds_alternative<MlpUpChannelOp>(p)) {
    return {kGeluMinAgreement, kGeluMaxDiff};
  }
  if (std::holds_alternative<AttentionOp>(p) || std::holds_alternative<SwinAttentionOp>(p)) {
    return {kAttentionMinAgreement, kAttentionMaxDiff, kAttentionMinCosine};
  }
  if (std::holds_alternative<AttentionChannelOp>(p) || std::holds_alternative<SwinAttentionChannelOp>(p)) {
    return {kAttentionChannelMinAgreement, kAttentionMaxDiff, kAttentionMinCosine};
  }
  return {kExactMinAgreement, kExactMaxDiff};
}

// Recorded codes as the bytes of a plan buffer (uint8, or uint16 where the buffer is wide).
std::vector<uint8_t> to_buffer(const std::vector<int32_t>& codes, int code_bytes) {
  std::vector<uint8_t> out(codes.size() * static_cast<size_t>(code_bytes));
  for (size_t i = 0; i < codes.size(); ++i) {
    if (code_bytes == 2) {
      const auto v = static_cast<uint16_t>(codes[i]);
      std::memcpy(out.data() + 2 * i, &v, 2);
    } else {
      out[i] = static_cast<uint8_t>(codes[i]);
    }
  }
  return out;
}
int32_t code_at(const std::vector<uint8_t>& buf, size_t i, int code_bytes) {
  if (code_bytes == 1) return buf[i];
  uint16_t v;
  std::memcpy(&v, buf.data() + 2 * i, 2);
  return v;
}

Bound softmax_bound(const AttentionParams& a) {
  return a.softmax == SoftmaxKind::kLog2 ? Bound{kLisMinAgreement, kLisMaxDiff}
                                         : Bound{kUniformSoftmaxMinAgreement, kUniformSoftmaxMaxDiff};
}

// Swin window attention, stage by stage, each fed the fake-quant codes of its input: q k^T (attn.qact_attn1), the
// relative position bias add (attn.qact2), the softmax with the shift mask, the context (attn.qact3; per channel
// under fqvit_plus: `context` not null).
void check_swin_attention_stages(const PlanOp& op, const SwinAttentionParams& p, const ChannelRequantParams* context_q,
                                 const testing::RecordingHooks& hooks, const uint8_t* qkv_codes, int64_t batch) {
  const AttentionParams& a = p.attention;
  const int64_t n = a.tokens, square = n * n, dim = a.heads * a.head_dim;
  const std::vector<uint8_t> logits = to_buffer(hooks.codes.at(op.name + ".qact_attn1"), 1);
  const std::vector<uint8_t> biased = to_buffer(hooks.codes.at(op.name + ".qact2"), 1);
  const std::vector<uint8_t> probs = to_buffer(hooks.codes.at(op.name + ".log_int_softmax"), 1);
  const std::vector<uint8_t> context = to_buffer(hooks.codes.at(op.output_point), 1);
  const int prob_zero = a.softmax == SoftmaxKind::kLog2 ? (1 << a.log2_bits) : a.prob_zero_point;
  Stats sl, sb, sp, sc;
  int64_t masked = 0, masked_nonzero_fake = 0;
  std::vector<uint8_t> lg(static_cast<size_t>(square)), lb(lg.size()), pr(lg.size()), ctx(static_cast<size_t>(n * dim));
  std::vector<int32_t> exp(static_cast<size_t>(n));
  for (int64_t w = 0; w < batch * p.windows; ++w) {
    const uint8_t* qkv = qkv_codes + w * n * 3 * dim;
    for (int64_t h = 0; h < a.heads; ++h) {
      const size_t at = static_cast<size_t>((w * a.heads + h) * square);
      attention_logits_ref(a, qkv, h, lg.data());
      swin_bias_logits_ref(p, h, logits.data() + at, lb.data());
      swin_masked_softmax_ref(p, w % p.windows, biased.data() + at, exp.data(), pr.data());
      if (context_q != nullptr) {
        attention_context_channel_ref(a, *context_q, probs.data() + at, qkv, h, ctx.data());
      } else {
        attention_context_ref(a, probs.data() + at, qkv, h, ctx.data());
      }
      for (int64_t ij = 0; ij < square; ++ij) {
        const size_t k = static_cast<size_t>(ij);
        sl.add(lg[k], logits[at + k], a.logit_zero_point);
        sb.add(lb[k], biased[at + k], p.biased_zero_point);
        sp.add(pr[k], probs[at + k], prob_zero);
        if (p.masked(w % p.windows, ij / n, ij % n)) ++masked, masked_nonzero_fake += probs[at + k] != prob_zero;
      }
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t d = 0; d < a.head_dim; ++d) {
          const size_t i = static_cast<size_t>(t * dim + h * a.head_dim + d);
          const int zp = context_q != nullptr ? context_q->zero_point[static_cast<size_t>(h * a.head_dim + d)]
                                              : a.out_zero_point;
          sc.add(ctx[i], context[static_cast<size_t>(w * n * dim) + i], zp);
        }
      }
    }
  }
  check(op.name + " logits", sl, {kExactMinAgreement, kExactMaxDiff});
  check(op.name + " + relative position bias", sb, {kExactMinAgreement, kExactMaxDiff});
  check(op.name + (a.softmax == SoftmaxKind::kLog2 ? " log2 softmax" : " uint8 softmax") +
            (p.region.empty() ? "" : " (shift mask)"),
        sp, softmax_bound(a));
  check(op.name + " context", sc, {kExactMinAgreement, kExactMaxDiff});
  // The masked logits (x - 100 in the fake path) take exactly zero weight there too.
  EXPECT_EQ(masked_nonzero_fake, 0) << op.name << ": " << masked << " masked logits";
}

// Teacher-forces every op of the file's plan on `images`; returns the number of ops checked.
void teacher_force(const std::string& path, const testing::Images& images) {
  QuantizedModel fake = read_quantized_model(path);
  fake.model->set_numerics(Numerics::kTorch);
  testing::RecordingHooks hooks(fake.state, path);
  fake.model->forward(images.normalized, &hooks);
  const LoweredModel lowered = lower_quantized_model(path);
  const IntPlan& plan = *lowered.plan;
  const int64_t batch = images.count;
  std::printf("%s (%lld images)\n", plan.architecture.c_str(), static_cast<long long>(batch));

  // Codes of the gathered buffers (Swin's "<point>@<order>"): the same codes moved by the op's index map, which
  // tests/lower/swin_maps_test.cc checks against the float graph's window functions.
  std::map<std::string, std::vector<int32_t>> moved;
  auto codes_of = [&](const std::string& point) -> const std::vector<int32_t>& {
    const auto it = moved.find(point);
    return it != moved.end() ? it->second : hooks.codes.at(point);
  };
  for (const PlanOp& op : plan.ops) {
    std::vector<std::vector<uint8_t>> forced;
    std::vector<const uint8_t*> inputs;
    if (std::holds_alternative<PatchEmbedOp>(op.params)) inputs.push_back(images.pixels.data());
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      const BufferSpec& spec = plan.buffers[static_cast<size_t>(op.inputs[i])];
      const std::vector<int32_t>& rec = codes_of(op.input_points[i]);
      std::vector<int32_t> buf(static_cast<size_t>(batch * spec.rows * spec.cols), 0);
      const auto rows = static_cast<int64_t>(rec.size()) / (batch * spec.cols);  // prefix rows only for the head
      for (int64_t b = 0; b < batch; ++b) {
        std::copy_n(rec.begin() + b * rows * spec.cols, rows * spec.cols, buf.begin() + b * spec.rows * spec.cols);
      }
      forced.push_back(to_buffer(buf, spec.code_bytes));
      inputs.push_back(forced.back().data());
    }
    if (const auto* head = std::get_if<HeadOp>(&op.params)) {
      std::vector<int32_t> scores(static_cast<size_t>(batch * plan.classes));
      run_op(plan, op, batch, inputs, scores.data());
      if (head->scores.two_heads) {
        // Averaged heads: the argmax of the integer scores against fake quant's averaged logits, per image.
        QuantizedModel again = read_quantized_model(path);
        again.model->set_numerics(Numerics::kTorch);
        testing::RecordingHooks h2(again.state, path);
        const Tensor logits = again.model->forward(images.normalized, &h2);
        Stats s;
        for (int64_t b = 0; b < batch; ++b) {
          const int32_t* row = scores.data() + b * plan.classes;
          const float* want = logits.data() + b * plan.classes;
          s.add(static_cast<int>(std::max_element(row, row + plan.classes) - row),
                static_cast<int>(std::max_element(want, want + plan.classes) - want), -1);
        }
        check(op.name + " (averaged heads, argmax)", s, {kExactMinAgreement, 0, 0.0});
        continue;
      }
      Stats s;
      const std::vector<int32_t>& want = hooks.codes.at("act_out");
      for (size_t i = 0; i < scores.size(); ++i) {
        s.add(scores[i] + head->scores.a_zero_point, want[i], head->scores.a_zero_point);
      }
      check(op.name + " (act_out)", s, {kExactMinAgreement, kExactMaxDiff});
      continue;
    }
    const BufferSpec& out_spec = plan.buffers[static_cast<size_t>(op.output)];
    std::vector<uint8_t> out(static_cast<size_t>(batch * out_spec.rows * out_spec.cols * out_spec.code_bytes));
    run_op(plan, op, batch, inputs, out.data());
    if (std::holds_alternative<RowGatherOp>(op.params)) {
      std::vector<int32_t>& gathered = moved[op.output_point];
      gathered.resize(static_cast<size_t>(batch * out_spec.rows * out_spec.cols));
      for (size_t i = 0; i < gathered.size(); ++i) gathered[i] = code_at(out, i, out_spec.code_bytes);
      continue;
    }
    const std::vector<int32_t>& want = hooks.codes.at(op.output_point);
    const auto rows = static_cast<int64_t>(want.size()) / (batch * out_spec.cols);
    const lower::ActQuant out_q =
        lower::act_quant(fake.state.activations.at(op.output_point)->record(), op.output_point, path, 16);
    auto zp_of = [&](int64_t i) { return out_q.channel_zero_point(out_q.per_channel() ? i % out_spec.cols : 0); };
    Stats s;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < rows * out_spec.cols; ++i) {
        s.add(code_at(out, static_cast<size_t>(b * out_spec.rows * out_spec.cols + i), out_spec.code_bytes),
              want[static_cast<size_t>(b * rows * out_spec.cols + i)], zp_of(i));
      }
    }
    check(op.name, s, bound_of(op.params));

    if (const auto* swin = std::get_if<SwinAttentionOp>(&op.params)) {
      check_swin_attention_stages(op, swin->params, nullptr, hooks, inputs[0], batch);
    }
    if (const auto* swin = std::get_if<SwinAttentionChannelOp>(&op.params)) {
      check_swin_attention_stages(op, swin->params, &swin->context, hooks, inputs[0], batch);
    }
    const auto* attn_plain = std::get_if<AttentionOp>(&op.params);
    const auto* attn_channel = std::get_if<AttentionChannelOp>(&op.params);
    if (attn_plain != nullptr || attn_channel != nullptr) {
      // The two inner stages on their own: logits from the forced qkv codes, softmax from the forced logits.
      const AttentionParams& a = attn_plain != nullptr ? attn_plain->params : attn_channel->params;
      const std::vector<uint8_t> logits = to_buffer(hooks.codes.at(op.name + ".qact_attn1"), 1);
      const std::vector<uint8_t> probs = to_buffer(hooks.codes.at(op.name + ".log_int_softmax"), 1);
      const std::vector<int32_t>& context = hooks.codes.at(op.output_point);
      Stats sl, sp, sc, sn;
      const int64_t dim = a.heads * a.head_dim;
      std::vector<uint8_t> lg(static_cast<size_t>(a.tokens * a.tokens)), ctx(static_cast<size_t>(a.tokens * dim));
      std::vector<int32_t> exp(static_cast<size_t>(a.tokens));
      std::vector<uint8_t> row(static_cast<size_t>(a.tokens));
      for (int64_t bh = 0; bh < batch * a.heads; ++bh) {
        const int64_t b = bh / a.heads, h = bh % a.heads;
        const uint8_t* qkv = inputs[0] + b * a.tokens * 3 * dim;
        attention_logits_ref(a, qkv, h, lg.data());
        for (int64_t i = 0; i < a.tokens * a.tokens; ++i) {
          sl.add(lg[static_cast<size_t>(i)], logits[static_cast<size_t>(bh * a.tokens * a.tokens + i)],
                 a.logit_zero_point);
        }
        if (attn_channel != nullptr) {
          attention_context_channel_ref(a, attn_channel->context, probs.data() + bh * a.tokens * a.tokens, qkv, h,
                                        ctx.data());
        } else {
          attention_context_ref(a, probs.data() + bh * a.tokens * a.tokens, qkv, h, ctx.data());
        }
        for (int64_t t = 0; t < a.tokens; ++t) {
          for (int64_t d = 0; d < a.head_dim; ++d) {
            const size_t at = static_cast<size_t>(t * dim + h * a.head_dim + d);
            sc.add(ctx[at], context[static_cast<size_t>(b * a.tokens * dim) + at],
                   static_cast<int>(zp_of(static_cast<int64_t>(at))));
          }
        }
        for (int64_t t = 0; t < a.tokens; ++t) {
          const size_t at = static_cast<size_t>((bh * a.tokens + t) * a.tokens);
          softmax_row_ref(a, logits.data() + at, exp.data(), row.data());
          if (a.softmax == SoftmaxKind::kLog2) {
            std::vector<uint8_t> ref30(static_cast<size_t>(a.tokens));
            lis_row_int64(a, logits.data() + at, 30, ref30.data());
            for (int64_t j = 0; j < a.tokens; ++j) sn.add(row[static_cast<size_t>(j)], ref30[static_cast<size_t>(j)], 16);
          }
          for (int64_t j = 0; j < a.tokens; ++j) {
            sp.add(row[static_cast<size_t>(j)], probs[at + static_cast<size_t>(j)],
                   a.softmax == SoftmaxKind::kLog2 ? (1 << a.log2_bits) : a.prob_zero_point);
          }
        }
      }
      check(op.name + " logits", sl, {kExactMinAgreement, kExactMaxDiff});
      check(op.name + " context", sc, {kExactMinAgreement, kExactMaxDiff});
      if (a.softmax == SoftmaxKind::kLog2) {
        check(op.name + " log2 n=" + std::to_string(a.exp.n) + " vs n=30", sn,
              {a.logit_shift > 0 ? kRefinedShiftMinAgreement : kShiftMinAgreement, kLisMaxDiff});
      }
      check(op.name + (a.softmax == SoftmaxKind::kLog2 ? " log2 softmax" : " uint8 softmax"), sp,
            a.softmax == SoftmaxKind::kLog2 ? Bound{kLisMinAgreement, kLisMaxDiff}
                                            : Bound{kUniformSoftmaxMinAgreement, kUniformSoftmaxMaxDiff});
    }
  }
}

struct DemoCase {
  const char* model;
  const char* config;
};
void PrintTo(const DemoCase& c, std::ostream* os) { *os << c.model << " " << c.config; }

class TeacherForcedDemo : public ::testing::TestWithParam<DemoCase> {};

TEST_P(TeacherForcedDemo, EveryOpAgreesWithFakeQuant) {
  const DemoCase& c = GetParam();
  const std::string config = std::string(c.config).find('/') != std::string::npos
                                 ? testing::source_dir() + "/" + c.config : std::string(c.config);
  const std::string path = testing::calibrate_dir(testing::source_dir() + "/demo/models/" + c.model, c.model, config);
  const auto list = testing::first_images(testing::source_dir() + "/demo/data/val",
                                          testing::source_dir() + "/demo/data/classes.txt", 32, 15);
  QuantizedModel q = read_quantized_model(path);
  teacher_force(path, testing::load_images(list, q.model->config().preprocess));
}

INSTANTIATE_TEST_SUITE_P(Presets, TeacherForcedDemo,
                         ::testing::Values(DemoCase{"vit_micro", "fqvit_w8a8attn4"},
                                           DemoCase{"vit_micro", "fqvit_w8a8attn8"},
                                           DemoCase{"vit_micro", "minmax_w8a8attn8"},
                                           DemoCase{"vit_micro", "fqvit_w6a6attn4_head8"},
                                           DemoCase{"swin_micro", "fqvit_w8a8attn4"},
                                           DemoCase{"swin_micro", "fqvit_w8a8attn8"},
                                           DemoCase{"swin_micro", "minmax_w8a8attn8"}));

// The fqvit_plus extensions (docs/quantization.md 11.9): all on, and the ones that take mixed paths alone
// (16-bit stream codes with one zero point; PTF branch outputs with plain uint8 adds; W6A6 with all on but the
// reference's i-exp; W4A4 with all on, its 4-bit logits through the refined i-exp). The micro Swin under fqvit_plus:
// its 16-bit stream through patch merging's gather, LayerNorm and reduction, the per-channel window-attention context
// and the per-channel average pool.
INSTANTIATE_TEST_SUITE_P(Plus, TeacherForcedDemo,
                         ::testing::Values(DemoCase{"vit_micro", "fqvit_plus"},
                                           DemoCase{"swin_micro", "fqvit_plus"},
                                           DemoCase{"swin_micro", "tests/data/configs/plus_residual16.json"},
                                           DemoCase{"vit_micro", "tests/data/configs/plus_residual16.json"},
                                           DemoCase{"vit_micro", "tests/data/configs/plus_branch_ptf.json"},
                                           DemoCase{"vit_micro", "tests/data/configs/plus_w6a6.json"},
                                           DemoCase{"vit_micro", "tests/data/configs/plus_w4a4.json"}));

// A random DeiT with distillation (committed): the quantized input (qact_input tables) and the two-head average,
// calibrated and evaluated on demo images resized to its 48 x 48 input.
TEST(TeacherForcedDeitDistilled, EveryOpAgreesWithFakeQuant) {
  const std::string dir = testing::source_dir() + "/tests/data/models/deit_distilled_small_random_committed";
  const std::string path = testing::calibrate_dir(dir, "deit_distilled", "fqvit_w8a8attn4");
  const auto list = testing::first_images(testing::source_dir() + "/demo/data/val",
                                          testing::source_dir() + "/demo/data/classes.txt", 16, 31);
  QuantizedModel q = read_quantized_model(path);
  teacher_force(path, testing::load_images(list, q.model->config().preprocess));
}

// The distilled DeiT under fqvit_plus: quantized input, two heads reading per-channel LayerNorm codes.
TEST(TeacherForcedDeitDistilled, PlusEveryOpAgreesWithFakeQuant) {
  const std::string dir = testing::source_dir() + "/tests/data/models/deit_distilled_small_random_committed";
  const std::string path = testing::calibrate_dir(dir, "deit_distilled", "fqvit_plus");
  const auto list = testing::first_images(testing::source_dir() + "/demo/data/val",
                                          testing::source_dir() + "/demo/data/classes.txt", 16, 31);
  QuantizedModel q = read_quantized_model(path);
  teacher_force(path, testing::load_images(list, q.model->config().preprocess));
}

// The real ViT-Tiny under fqvit_plus, calibrated here on 100 calibration images, on 8 val images.
TEST(TeacherForcedVitTiny, PlusEveryOpAgreesWithFakeQuant) {
  FQVIT_REQUIRE_SHARED(shared);
  const std::string path = testing::calibrate_dir(shared + "/models/vit_tiny_patch16_224", "vit_tiny", "fqvit_plus",
                                                  shared + "/imagenet/calib", shared + "/imagenet/classes.txt");
  const auto list = testing::first_images(shared + "/imagenet/val", shared + "/imagenet/classes.txt", 8, 80);
  QuantizedModel q = read_quantized_model(path);
  teacher_force(path, testing::load_images(list, q.model->config().preprocess));
}

// A narrow random Swin at 224 with window 7 (committed, in the official and in timm's layout, whose patch mergings
// sit at the start of the next stage): Swin-T's geometry (56 x 56 grid, shift 3, four stages, the last a single
// unshifted window), calibrated and evaluated on demo images resized to 224.
TEST(TeacherForcedSwinWindow7, EveryOpAgreesWithFakeQuant) {
  for (const char* name : {"swin_small_committed", "swin_small_committed_timm"}) {
    const std::string dir = testing::source_dir() + "/tests/data/models/" + name;
    const std::string path = testing::calibrate_dir(dir, name, "fqvit_w8a8attn4");
    const auto list = testing::first_images(testing::source_dir() + "/demo/data/val",
                                            testing::source_dir() + "/demo/data/classes.txt", 4, 97);
    QuantizedModel q = read_quantized_model(path);
    teacher_force(path, testing::load_images(list, q.model->config().preprocess));
  }
}

// The real ViT-Tiny with the reference's own calibrated parameters, on 8 val images.
TEST(TeacherForcedVitTiny, EveryOpAgreesWithFakeQuant) {
  FQVIT_REQUIRE_SHARED(shared);
  const auto list = testing::first_images(shared + "/imagenet/val", shared + "/imagenet/classes.txt", 8, 80);
  for (const char* qparams : {"golden_vit_tiny_qparams.json", "golden_vit_tiny_qparams_ptf_w8a8attn8.json"}) {
    const std::string path = testing::reference_vit_tiny(shared, qparams, kLisReferenceShift);
    QuantizedModel q = read_quantized_model(path);
    teacher_force(path, testing::load_images(list, q.model->config().preprocess));
  }
}


// Linear ops against closed-form values: fed the fake-quant codes of their input, their codes must be the exact real
// output (sum (a - zp) w) s_in s_w + b, in double, rounded half to even, on all but a few values within the
// multiplier's 2^-31 of a rounding boundary. This is what the per-channel rounding terms buy: an int32 bias alone
// drops the bias's fraction of an accumulator unit and moved 0.02-0.07% of ViT-Tiny's codes (docs/quantization.md
// 10.1); the fake path's float32 GEMM is off the exact value on about 0.001%.
constexpr double kLinearExactMinAgreement = 0.9999;

void linear_ops_against_exact(const std::string& path, const testing::Images& images) {
  QuantizedModel fake = read_quantized_model(path);
  fake.model->set_numerics(Numerics::kTorch);
  testing::RecordingHooks hooks(fake.state, path);
  fake.model->forward(images.normalized, &hooks);
  const QuantizedFile file = read_quantized_file(path);
  const LoweredModel lowered = lower_quantized_model(path);
  for (const PlanOp& op : lowered.plan->ops) {
    // The paper's LinearOp and the fqvit_plus LinearChannelOp (per-channel output zero points, inputs with folded
    // per-channel factors), which must round the same exact output.
    const auto* lin = std::get_if<LinearOp>(&op.params);
    const auto* lin_channel = std::get_if<LinearChannelOp>(&op.params);
    if (lin == nullptr && lin_channel == nullptr) continue;
    const LinearParams& l = lin != nullptr ? lin->params : lin_channel->linear;
    const std::vector<uint8_t> in = to_buffer(hooks.codes.at(op.input_points[0]), 1);  // linear inputs: uint8
    const auto w = lower::weight_codes(file, op.name, file.weights.at(op.name).shape, op.name + ".bias", path);
    const lower::ActQuant qi = lower::act_quant(file, op.input_points[0], path);
    const lower::ActQuant qo = lower::act_quant(file, op.output_point, path);
    std::vector<uint8_t> out(static_cast<size_t>(static_cast<int64_t>(in.size()) / l.in * l.out));
    run_op(*lowered.plan, op, images.count, {in.data()}, out.data());
    Stats s;
    for (int64_t r = 0; r < static_cast<int64_t>(in.size()) / l.in; ++r) {
      for (int64_t o = 0; o < l.out; ++o) {
        int64_t acc = 0;  // folded per-channel factors 2^alpha_k live in the weight codes (scale s1 = folded_scale)
        for (int64_t k = 0; k < l.in; ++k) {
          acc += int64_t{in[static_cast<size_t>(r * l.in + k)] - qi.channel_zero_point(k)} *
                 w.codes[static_cast<size_t>(o * l.in + k)];
        }
        const double y = static_cast<double>(acc) * qi.folded_scale() * w.scale[static_cast<size_t>(o)] +
                         static_cast<double>(w.bias[static_cast<size_t>(o)]);
        const int32_t zp = qo.channel_zero_point(qo.zero_points.empty() ? 0 : o);
        const double want = std::clamp(std::nearbyint(y / qo.channel_scale(o)) + zp, double(qo.lo), double(qo.hi));
        s.add(out[static_cast<size_t>(r * l.out + o)], static_cast<int>(want), zp);
      }
    }
    check(op.name + " vs exact", s, {kLinearExactMinAgreement, kExactMaxDiff});
  }
}

TEST(LinearOpsExact, DemoVitAgainstClosedForm) {
  const auto list = testing::first_images(testing::source_dir() + "/demo/data/val",
                                          testing::source_dir() + "/demo/data/classes.txt", 32, 15);
  for (const char* config : {"fqvit_w8a8attn8", "fqvit_w8a8attn4", "fqvit_plus"}) {
    const std::string path = testing::calibrate_demo("vit_micro", config);
    QuantizedModel q = read_quantized_model(path);
    linear_ops_against_exact(path, testing::load_images(list, q.model->config().preprocess));
  }
}

TEST(LinearOpsExact, VitTinyAgainstClosedForm) {
  FQVIT_REQUIRE_SHARED(shared);
  const auto list = testing::first_images(shared + "/imagenet/val", shared + "/imagenet/classes.txt", 4, 160);
  const std::string path = testing::reference_vit_tiny(shared, "golden_vit_tiny_qparams_ptf_w8a8attn8.json",
                                                       kLisReferenceShift);
  QuantizedModel q = read_quantized_model(path);
  linear_ops_against_exact(path, testing::load_images(list, q.model->config().preprocess));
}

}  // namespace
}  // namespace fqvit
