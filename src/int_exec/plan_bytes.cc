// The resident bytes of a plan (fqvit-eval --print-plan, and the memory test against the FP32 model's bytes).
#include <vector>

#include "fqvit/int_exec/plan.h"

namespace fqvit {
namespace {

template <typename T>
int64_t bytes_of(const std::vector<T>& v) {
  return static_cast<int64_t>(v.capacity() * sizeof(T));  // what is allocated, not only what is used
}

struct Count {
  PlanBytes& b;
  void linear(const LinearParams& p) const {
    if (p.weights) b.weights += p.weights->bytes();
    b.channel += bytes_of(p.bias) + bytes_of(p.multiplier) + bytes_of(p.rounding_offset);
  }
  void residual(const ResidualAddParams& p) const { b.channel += bytes_of(p.a_multiplier) + bytes_of(p.b_multiplier); }
  void operator()(const PatchEmbedOp& p) const {
    b.weights += p.weights->bytes();
    b.channel += bytes_of(p.requant.bias) + bytes_of(p.requant.multiplier);
    b.tables += static_cast<int64_t>(sizeof p.input.pixel_code);
  }
  void operator()(const EmbedOp& p) const {
    b.constants += bytes_of(p.params.prefix_codes) + bytes_of(p.params.pos_codes);
    residual(p.params.add_pos);
  }
  void operator()(const LayerNormOp& p) const {
    const LayerNormParams& l = p.params;
    b.channel += bytes_of(l.in_shift) + bytes_of(l.gamma) + bytes_of(l.beta_q32) + bytes_of(l.zero_variance_code);
  }
  void operator()(const LinearOp& p) const { linear(p.params); }
  void operator()(const AttentionOp& p) const { b.tables += bytes_of(p.params.exp_table); }
  void operator()(const MlpUpOp& p) const {
    linear(p.linear);
    const GeluParams& g = p.gelu;
    b.channel += bytes_of(g.to_h) + bytes_of(g.to_h_rounding_offset);
    b.tables += bytes_of(g.rise) + bytes_of(g.fall) + bytes_of(g.bucket_code) + bytes_of(g.bucket_step) +
                bytes_of(g.bucket_delta) + bytes_of(g.bucket_packed);
  }
  void operator()(const ResidualAddOp& p) const { residual(p.params); }
  void operator()(const HeadOp& p) const {
    linear(p.head);
    linear(p.head_dist);
  }
  // Swin: the index maps, the per-head relative-position-bias tables and mask labels.
  void operator()(const RowGatherOp& p) const { b.tables += bytes_of(p.params.source); }
  void operator()(const SwinAttentionOp& p) const {
    b.tables += bytes_of(p.params.attention.exp_table) + bytes_of(p.params.bias) + bytes_of(p.params.region);
  }
  void operator()(const TokenMeanOp&) const {}
  // The fqvit_plus forms (int_ops_plus.h).
  void requant(const ChannelRequantParams& r) const {
    b.channel += bytes_of(r.multiplier) + bytes_of(r.zero_point) + bytes_of(r.rounding_offset);
  }
  void residual(const ResidualAddChannelParams& p) const {
    b.channel += bytes_of(p.a_zero_point) + bytes_of(p.b_zero_point) + bytes_of(p.out_zero_point) +
                 bytes_of(p.a_multiplier) + bytes_of(p.b_multiplier);
  }
  void operator()(const EmbedChannelOp& p) const {
    b.constants += bytes_of(p.params.prefix_codes) + bytes_of(p.params.pos_codes);
    residual(p.params.add_pos);
  }
  void operator()(const LayerNormWideOp& p) const {
    const LayerNormWideParams& l = p.params;
    b.channel += bytes_of(l.in_zero_point) + bytes_of(l.in_shift) + bytes_of(l.gamma) + bytes_of(l.beta_q32) +
                 bytes_of(l.zero_variance_code) + bytes_of(l.out_zero_point);
  }
  void operator()(const LinearChannelOp& p) const {
    linear(p.linear);
    requant(p.requant);
  }
  void operator()(const AttentionChannelOp& p) const {
    b.tables += bytes_of(p.params.exp_table);
    requant(p.context);
  }
  void operator()(const MlpUpChannelOp& p) const {
    linear(p.linear);
    const GeluChannelParams& g = p.gelu;
    b.channel += bytes_of(g.to_h) + bytes_of(g.to_h_rounding_offset) + bytes_of(g.group) + bytes_of(g.zero_point);
    for (const GeluParams& t : g.groups) b.tables += bytes_of(t.rise) + bytes_of(t.fall);
    for (const GeluStepBuckets& t : g.buckets) b.tables += bytes_of(t.value) + bytes_of(t.step) + bytes_of(t.delta);
  }
  void operator()(const ResidualAddChannelOp& p) const { residual(p.params); }
  void operator()(const SwinAttentionChannelOp& p) const {
    b.tables += bytes_of(p.params.attention.exp_table) + bytes_of(p.params.bias) + bytes_of(p.params.region);
    requant(p.context);
  }
  void operator()(const TokenMeanChannelOp& p) const {
    b.channel += bytes_of(p.params.multiplier) + bytes_of(p.params.out_zero_point);
  }
};

}  // namespace

PlanBytes plan_bytes(const IntPlan& plan) {
  PlanBytes b;
  for (const PlanOp& op : plan.ops) std::visit(Count{b}, op.params);
  return b;
}

}  // namespace fqvit
