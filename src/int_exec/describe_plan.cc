// The readable plan dump: one line per op (fqvit-eval --print-plan). Multipliers print as mantissa * 2^(exp - 31)
// with no float anywhere: the plan holds none.
#include <sstream>

#include "fqvit/int_exec/plan.h"

namespace fqvit {
namespace {

std::string mult(const FixedMultiplier& m) {
  std::ostringstream os;
  os << m.mantissa_q31 << "*2^" << (m.exponent - 31);
  return os.str();
}

std::string mult_range(const std::vector<FixedMultiplier>& ms) {
  if (ms.empty()) return "-";
  int lo = ms[0].exponent, hi = ms[0].exponent;
  for (const auto& m : ms) lo = m.exponent < lo ? m.exponent : lo, hi = m.exponent > hi ? m.exponent : hi;
  std::ostringstream os;
  os << ms.size() << " x Q31 exp [" << lo << ", " << hi << "] first " << mult(ms[0]);
  return os.str();
}

std::string range(int32_t lo, int32_t hi) {
  std::ostringstream os;
  os << "[" << lo << "," << hi << "]";
  return os.str();
}

struct Describe {
  std::ostringstream& os;
  void operator()(const PatchEmbedOp& p) const {
    os << "patch_embed  pixels [" << p.input.channels << "," << p.input.image_size << "," << p.input.image_size
       << "] patch " << p.input.patch << " -> s8 GEMM K=" << p.weights->k() << " N=" << p.weights->n()
       << " acc<<" << p.requant.gain_shift << " requant " << mult_range(p.requant.multiplier) << " zp "
       << p.requant.zero_point << " " << range(p.requant.lo, p.requant.hi);
  }
  void operator()(const EmbedOp& p) const {
    os << "embed        " << p.params.prefix << " prefix + " << p.params.patches << " patches x " << p.params.dim
       << ", patch->embed " << mult(p.params.patch_to_embed.multiplier) << ", + pos onto "
       << mult_range(p.params.add_pos.a_multiplier);
  }
  void operator()(const LayerNormOp& p) const {
    const auto& l = p.params;
    os << "layer_norm   C=" << l.channels << " zp_in " << l.in_zero_point << " M" << l.multiplier_bits
       << " eps_int " << l.variance_epsilon << " gamma " << mult_range(l.gamma) << " -> zp " << l.out_zero_point
       << " " << range(l.lo, l.hi);
  }
  void operator()(const LinearOp& p) const {
    const auto& l = p.params;
    os << "linear       " << l.in << " -> " << l.out << " u8 x s8 -> s32 requant " << mult_range(l.multiplier)
       << " zp " << l.zero_point << " " << range(l.lo, l.hi);
  }
  void operator()(const AttentionOp& p) const {
    const auto& a = p.params;
    os << "attention    T=" << a.tokens << " heads " << a.heads << " x " << a.head_dim << " scores "
       << mult(a.score_multiplier) << " -> logits zp " << a.logit_zero_point << ", softmax ";
    if (a.softmax == SoftmaxKind::kLog2) {
      os << "log2 uint" << a.log2_bits << " i-exp x0 " << a.exp.x0 << " b " << a.exp.b << " c " << a.exp.c << " n "
         << a.exp.n << (a.logit_shift ? " on logits << " + std::to_string(a.logit_shift) : "");
    } else {
      os << "uniform " << range(a.prob_lo, a.prob_hi) << " exp table Q30 [256]";
    }
    os << ", context " << mult(a.context_multiplier) << " zp " << a.out_zero_point;
  }
  void operator()(const MlpUpOp& p) const {
    os << "linear_gelu  " << p.linear.in << " -> " << p.linear.out << " u8 x s8 -> s32, GELU tables "
       << p.gelu.fall.size() << " + " << p.gelu.rise.size() << " steps on h (2^-" << kGeluFracBits
       << " of the output scale), " << p.gelu.bucket_code.size() << " buckets of 2^" << p.gelu.bucket_shift
       << ", to_h " << mult_range(p.gelu.to_h);
  }
  void operator()(const ResidualAddOp& p) const {
    os << "residual_add C=" << p.params.channels << " a " << mult_range(p.params.a_multiplier) << ", b "
       << mult_range(p.params.b_multiplier) << " -> zp " << p.params.out_zero_point;
  }
  void operator()(const EmbedChannelOp& p) const {
    os << "embed_ch     " << p.params.prefix << " prefix + " << p.params.patches << " patches x " << p.params.dim
       << ", patch->embed " << mult(p.params.patch_to_embed.multiplier) << ", + pos onto per-channel zp "
       << range(p.params.add_pos.lo, p.params.add_pos.hi) << " " << mult_range(p.params.add_pos.a_multiplier);
  }
  void operator()(const LayerNormWideOp& p) const {
    int shift = 0;
    for (uint8_t s : p.params.in_shift) shift = s > shift ? s : shift;
    os << "layer_norm_w C=" << p.params.channels << " per-channel zp in/out, shifts <= " << shift
       << ", int128 variance, M16 gamma " << mult_range(p.params.gamma) << " -> " << range(p.params.lo, p.params.hi);
  }
  void operator()(const LinearChannelOp& p) const {
    os << "linear_ch    " << p.linear.in << " -> " << p.linear.out << " u8 x s8 -> s32, per-channel requant "
       << mult_range(p.requant.multiplier) << " + zp " << range(p.requant.lo, p.requant.hi);
  }
  void operator()(const AttentionChannelOp& p) const {
    operator()(AttentionOp{p.params});
    os << " [per-channel context " << mult_range(p.context.multiplier) << "]";
  }
  void operator()(const MlpUpChannelOp& p) const {
    os << "linear_gelu_ch " << p.linear.in << " -> " << p.linear.out << " u8 x s8 -> s32, GELU tables for "
       << p.gelu.groups.size() << " output scales, per-channel zp, to_h " << mult_range(p.gelu.to_h);
  }
  void operator()(const ResidualAddChannelOp& p) const {
    os << "residual_add_ch C=" << p.params.channels << " a " << mult_range(p.params.a_multiplier) << ", b "
       << mult_range(p.params.b_multiplier) << " -> per-channel zp " << range(p.params.lo, p.params.hi);
  }
  void operator()(const HeadOp& p) const {
    os << "head         " << p.head.in << " -> " << p.head.out << " requant " << mult_range(p.head.multiplier)
       << (p.scores.two_heads ? ", + head_dist, scores averaged" : ", scores = code - zp");
  }
  void operator()(const RowGatherOp& p) const {
    const auto& g = p.params;
    os << "gather       " << g.in_rows << " x " << g.cols << " -> " << g.out_rows << " x " << g.group * g.cols
       << (g.code_bytes == 2 ? " u16" : "") << (g.group == 1 ? " (token index map)" : " (2x2 neighbours concatenated)");
  }
  void operator()(const SwinAttentionOp& p) const {
    const auto& s = p.params;
    const auto& a = s.attention;
    os << "win_attn     " << s.windows << " windows x N=" << a.tokens << " heads " << a.heads << " x " << a.head_dim
       << " scores " << mult(a.score_multiplier) << " -> zp " << a.logit_zero_point << ", + rel. bias int64 ["
       << a.heads << "," << a.tokens * a.tokens << "] with " << mult(s.a_multiplier) << " -> zp "
       << s.biased_zero_point << (s.region.empty() ? "" : ", shift mask") << ", softmax ";
    if (a.softmax == SoftmaxKind::kLog2) {
      os << "log2 uint" << a.log2_bits << " i-exp n " << a.exp.n
         << (a.logit_shift ? " on logits << " + std::to_string(a.logit_shift) : "");
    } else {
      os << "uniform " << range(a.prob_lo, a.prob_hi);
    }
    os << ", context " << mult(a.context_multiplier) << " zp " << a.out_zero_point;
  }
  void operator()(const SwinAttentionChannelOp& p) const {
    operator()(SwinAttentionOp{p.params});
    os << " [per-channel context " << mult_range(p.context.multiplier) << "]";
  }
  void operator()(const TokenMeanChannelOp& p) const {
    const auto& m = p.params;
    os << "token_mean_ch " << m.tokens << " x " << m.channels << " sum (int32) " << mult_range(m.multiplier)
       << " -> per-channel zp " << range(m.lo, m.hi);
  }
  void operator()(const TokenMeanOp& p) const {
    const auto& m = p.params;
    os << "token_mean   " << m.tokens << " x " << m.channels << " sum (int32) " << mult(m.multiplier) << " -> zp "
       << m.out_zero_point << " " << range(m.lo, m.hi);
  }
};

}  // namespace

std::string describe_plan(const IntPlan& plan) {
  std::ostringstream os;
  os << plan.architecture << ": integer plan, " << plan.ops.size() << " ops, " << plan.buffers.size()
     << " code buffers, input uint8 [" << plan.channels << "," << plan.image_size << "," << plan.image_size
     << "], " << plan.classes << " int32 scores\n";
  for (const PlanOp& op : plan.ops) {
    os << "  ";
    std::visit(Describe{os}, op.params);
    os << "   # " << op.name << ": ";
    for (size_t i = 0; i < op.input_points.size(); ++i) os << (i ? " + " : "") << op.input_points[i];
    os << " -> " << op.output_point << "\n";
  }
  const PlanBytes b = plan_bytes(plan);
  os << "resident: " << b.total() << " bytes";
  if (plan.float_weight_bytes > 0) {  // per mille, in integers: the plan holds no float
    const int64_t pm = (b.total() * 1000 + plan.float_weight_bytes / 2) / plan.float_weight_bytes;
    os << ", " << pm / 10 << "." << pm % 10 << "% of the FP32 model's " << plan.float_weight_bytes << " bytes";
  }
  os << " (packed int8 weights " << b.weights << ", per-channel " << b.channel << ", tables " << b.tables
     << ", constant codes " << b.constants << ")\n";
  return os.str();
}

}  // namespace fqvit
