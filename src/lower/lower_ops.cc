#include "lower/lower_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "fqvit/core/error.h"
#include "fqvit/lower/lower.h"
#include "fqvit/quant/lis_params.h"
#include "fqvit/quant/ptf_params.h"

namespace fqvit::lower {
namespace {

std::string text(double v) {
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

std::string field_of(const std::string& point) { return "quantizers.activations." + point; }

int32_t clamp_code(int64_t v, int32_t lo, int32_t hi) { return static_cast<int32_t>(std::clamp<int64_t>(v, lo, hi)); }

// The accumulator bound of kernels/gemm.h: |bias| plus the largest |sum (a - zp) w| and every partial sum.
void check_accumulator(int64_t bias, int64_t k, const std::string& origin, const std::string& field) {
  const int64_t worst = std::llabs(bias) + 2 * 255 * 128 * k;
  if (k > kMaxGemmK || worst >= (int64_t{1} << 31)) {
    fail(origin, field, "bias " + std::to_string(bias) + " with K " + std::to_string(k),
         "|bias| + 2 * 32640 K < 2^31 (int32 accumulator) and K <= " + std::to_string(kMaxGemmK));
  }
}

// A quantizer feeding a C-channel op holds one scale (per tensor) or one per channel.
void check_channels(const ActQuant& q, int64_t channels, const std::string& origin) {
  if (q.scale.size() != 1 && static_cast<int64_t>(q.scale.size()) != channels) {
    fail(origin, field_of(q.point) + ".alpha", std::to_string(q.scale.size()) + " channels",
         "1 or " + std::to_string(channels) + " (the channels of the tensor it quantizes)");
  }
}

}  // namespace

QParams ActQuant::qparams() const { return {static_cast<float>(scale[0]), zero_point}; }

ActQuant act_quant(const QuantizerRecord& r, const std::string& point, const std::string& origin) {
  const std::string field = field_of(point);
  const BitType bt = r.bit_type;
  if (bt.is_signed || bt.bits < kMinBits || bt.bits > kMaxBits) {
    fail(origin, field + ".bits", bt.name(), "uint2..uint8 (the integer kernels hold codes in uint8)");
  }
  auto floats = [&](const char* key) -> const std::vector<float>& {
    const auto it = r.floats.find(key);
    if (it == r.floats.end() || it->second.empty()) {
      fail(origin, field + "." + key, it == r.floats.end() ? "missing" : "no values",
           "a float value for a " + r.kind + " quantizer");
    }
    return it->second;
  };
  auto ints = [&](const char* key) -> const std::vector<int32_t>& {
    const auto it = r.ints.find(key);
    if (it == r.ints.end() || it->second.empty()) {
      fail(origin, field + "." + key, it == r.ints.end() ? "missing" : "no values",
           "an integer value for a " + r.kind + " quantizer");
    }
    return it->second;
  };
  auto single = [&](const char* key, size_t n) {
    if (n != 1) fail(origin, field + "." + key, std::to_string(n) + " values", "1 (one per tensor)");
  };
  ActQuant a;
  a.point = point;
  a.kind = r.kind;
  a.bits = bt.bits;
  a.lo = bt.lo(), a.hi = bt.hi();
  if (r.kind == "uniform") {
    single("scale", floats("scale").size());
    single("zero_point", ints("zero_point").size());
    a.scale = {static_cast<double>(floats("scale")[0])};
    a.zero_point = ints("zero_point")[0];
  } else if (r.kind == "ptf") {
    if (r.ints.count("zero_points")) {
      fail(origin, field + ".zero_points", "per-channel zero points", "one zero point (paper PTF)");
    }
    single("scale1", floats("scale1").size());
    single("zero_point", ints("zero_point").size());
    PtfParams p;
    p.bit_type = bt;
    p.scale1 = floats("scale1")[0];
    if (!(p.scale1 > 0.0f) || !std::isfinite(p.scale1)) {
      fail(origin, field + ".scale1", text(static_cast<double>(p.scale1)), "finite and positive");
    }
    for (const int32_t al : ints("alpha")) {
      if (al < 0 || al > kPtfMaxAlpha) fail(origin, field + ".alpha", std::to_string(al), "0..3 (paper PTF, K = 3)");
      p.alpha.push_back(static_cast<uint8_t>(al));
    }
    for (const float sc : p.channel_scales()) a.scale.push_back(static_cast<double>(sc));
    a.alpha = p.alpha;
    a.zero_point = ints("zero_point")[0];
  } else if (r.kind == "lis") {
    single("exp_shift", ints("exp_shift").size());
    a.exp_shift = ints("exp_shift")[0];
    if (a.exp_shift < 8 || a.exp_shift > kLisReferenceShift) {
      fail(origin, field + ".exp_shift", std::to_string(a.exp_shift), "8..30");
    }
  } else {
    fail(origin, field + ".kind", r.kind, "uniform, ptf or lis (the kinds the integer executor runs)");
  }
  if (r.kind != "lis" && (a.zero_point < a.lo || a.zero_point > a.hi)) {
    fail(origin, field + ".zero_point", std::to_string(a.zero_point),
         "within [" + std::to_string(a.lo) + ", " + std::to_string(a.hi) + "] of " + bt.name());
  }
  for (double sc : a.scale) {
    if (!(sc > 0.0) || !std::isfinite(sc)) fail(origin, field + ".scale", text(sc), "finite and positive");
  }
  return a;
}

ActQuant act_quant(const QuantizedFile& file, const std::string& point, const std::string& origin) {
  const auto it = file.activations.find(point);
  if (it == file.activations.end()) fail(origin, field_of(point), "missing", "a quantizer at every point");
  return act_quant(it->second, point, origin);
}

WeightCodes weight_codes(const QuantizedFile& file, const std::string& name, const Shape& shape,
                         const std::string& bias, const std::string& origin) {
  const std::string field = "quantizers.weights." + name;
  const auto it = file.weights.find(name);
  if (it == file.weights.end()) fail(origin, field, "missing", "a quantized weight");
  const QuantizedWeight& q = it->second;
  if (q.shape != shape) fail(origin, q.tensor + ".shape", shape_to_string(q.shape), shape_to_string(shape));
  if (!q.bit_type.is_signed || q.bit_type.bits > 8) fail(origin, field + ".bits", q.bit_type.name(), "int2..int8");
  if (!q.input_exponent.empty()) {
    fail(origin, q.tensor + "_input_exponent", "per-channel input exponents",
         "none (the paper's weights; folded inputs are not lowered yet)");
  }
  WeightCodes w;
  w.name = name;
  w.out = shape[0];
  w.in = shape_numel(shape) / w.out;
  w.codes = q.codes;  // checked within bit_type by the reader
  for (int64_t o = 0; o < w.out; ++o) {
    const float sc = q.scales[static_cast<size_t>(o)];
    if (!(sc > 0.0f) || !std::isfinite(sc)) {
      fail(origin, q.tensor + "_scale", "scale " + text(static_cast<double>(sc)) + " for output channel " +
                   std::to_string(o), "finite and positive");
    }
    w.scale.push_back(static_cast<double>(sc));
  }
  if (!bias.empty()) {
    const Tensor b = float_tensor(file, bias, {w.out}, origin);
    w.bias.assign(b.data(), b.data() + b.numel());
  }
  return w;
}

Tensor float_tensor(const QuantizedFile& file, const std::string& name, const Shape& shape, const std::string& origin) {
  if (!file.file.contains(name)) fail(origin, name, "missing", "a float tensor " + shape_to_string(shape));
  const TensorInfo& t = file.file.info(name);
  if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16 && t.dtype != DType::kF64) {
    fail(origin, name + ".dtype", dtype_name(t.dtype), "F32, F16, BF16 or F64 (a float tensor)");
  }
  if (t.shape != shape) fail(origin, name + ".shape", shape_to_string(t.shape), shape_to_string(shape));
  Tensor v = file.file.load_float(name);
  for (int64_t i = 0; i < v.numel(); ++i) {
    if (!std::isfinite(v[i])) {
      fail(origin, name, "value " + text(static_cast<double>(v[i])) + " at flat index " + std::to_string(i),
           "finite numbers");
    }
  }
  return v;
}

LinearParams linear_params(const WeightCodes& w, const ActQuant& in, const ActQuant& out, const std::string& origin) {
  if (in.scale.size() != 1 || out.scale.size() != 1) {
    fail(origin, field_of(in.scale.size() != 1 ? in.point : out.point), "a per-channel quantizer",
         "a per-tensor quantizer around " + w.name);
  }
  LinearParams p;
  p.in = w.in, p.out = w.out;
  p.weights = std::make_shared<PackedWeights>(w.codes.data(), w.out, w.in);
  p.zero_point = out.zero_point, p.lo = out.lo, p.hi = out.hi;
  for (int64_t o = 0; o < w.out; ++o) {
    const double acc_scale = in.scale[0] * w.scale[static_cast<size_t>(o)];
    int64_t sum_w = 0;
    for (int64_t k = 0; k < w.in; ++k) sum_w += w.codes[static_cast<size_t>(o * w.in + k)];
    const double b = w.bias.empty() ? 0.0 : static_cast<double>(w.bias[static_cast<size_t>(o)]) / acc_scale;
    if (!std::isfinite(b) || std::fabs(b) > 1e9) fail(origin, w.name + ".bias", text(b), "|bias / (s_in s_w)| < 2^30");
    const auto rounded = static_cast<int64_t>(std::llround(b));
    check_accumulator(rounded, w.in, origin, w.name + ".bias");
    p.bias.push_back(static_cast<int32_t>(rounded - int64_t{in.zero_point} * sum_w));
    const FixedMultiplier m = fixed_multiplier_from_real(acc_scale / out.scale[0], origin,
                                                         w.name + " requantization multiplier (s_in s_w / s_out)");
    p.multiplier.push_back(m);
    // The bias's fraction f in [-1/2, 1/2] of an accumulator unit, as a rounding offset (fixed_multiplier.h).
    const double f = b - static_cast<double>(rounded);
    p.rounding_offset.push_back(static_cast<int32_t>(std::llround(f * static_cast<double>(m.mantissa_q31))));
  }
  return p;
}

ResidualAddParams residual_add_params(const ActQuant& a, const ActQuant& b, const ActQuant& out, int64_t channels,
                                      const std::string& origin, const std::string& field) {
  for (const ActQuant* q : {&a, &b, &out}) check_channels(*q, channels, origin);
  ResidualAddParams p;
  p.channels = channels;
  p.a_zero_point = a.zero_point, p.b_zero_point = b.zero_point;
  p.out_zero_point = out.zero_point, p.lo = out.lo, p.hi = out.hi;
  for (int64_t c = 0; c < channels; ++c) {
    const double ra = a.channel_scale(c) / out.channel_scale(c), rb = b.channel_scale(c) / out.channel_scale(c);
    const FixedMultiplier big = fixed_multiplier_from_real(std::max(ra, rb), origin, field);
    p.a_multiplier.push_back(fixed_multiplier_with_exponent(ra, big.exponent, origin, field));
    p.b_multiplier.push_back(fixed_multiplier_with_exponent(rb, big.exponent, origin, field));
  }
  return p;
}

LayerNormParams layer_norm_params(const ActQuant& in, const ActQuant& out, const Tensor& gamma, const Tensor& beta,
                                  bool reference_int, double eps, const std::string& origin) {
  const int64_t c_count = gamma.numel();
  if (c_count > 4096) fail(origin, out.point, std::to_string(c_count) + " channels", "at most 4096 (int64 bounds)");
  if (out.scale.size() != 1) fail(origin, field_of(out.point), "per-channel", "a per-tensor LayerNorm output");
  check_channels(in, c_count, origin);
  LayerNormParams p;
  p.channels = c_count;
  p.in_zero_point = in.zero_point;
  p.out_zero_point = out.zero_point, p.lo = out.lo, p.hi = out.hi;
  p.multiplier_bits = reference_int ? 8 : 24;
  uint8_t alpha_min = 255;
  for (uint8_t al : in.alpha) alpha_min = std::min(alpha_min, al);
  double s_min = std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < c_count; ++c) {
    p.in_shift.push_back(in.alpha.empty() ? 0 : static_cast<uint8_t>(in.alpha[static_cast<size_t>(c)] - alpha_min));
    s_min = std::min(s_min, in.channel_scale(c));
  }
  if (!reference_int) {
    p.variance_epsilon = static_cast<int64_t>(std::llround(eps * static_cast<double>(c_count * c_count) / (s_min * s_min)));
  }
  const double s_out = out.scale[0];
  for (int64_t c = 0; c < c_count; ++c) {
    const double g = static_cast<double>(gamma[c]) / s_out, bq = static_cast<double>(beta[c]) / s_out;
    p.gamma.push_back(fixed_multiplier_from_real(g, origin, out.point + " LayerNorm gamma / s_out"));
    if (!(std::fabs(bq) < 32768.0)) fail(origin, out.point + " LayerNorm beta / s_out", text(bq), "|beta / s_out| < 2^15");
    p.beta_q32.push_back(static_cast<int64_t>(std::llround(std::ldexp(bq, kLayerNormBetaFracBits))));
    p.zero_variance_code.push_back(static_cast<uint8_t>(clamp_code(std::llround(bq) + out.zero_point, out.lo, out.hi)));
  }
  return p;
}

IntExpParams int_exp_params(double logit_scale, int max_n) {
  // The reference's constants, in float32 and in its order (quant/log_int_softmax.cc).
  constexpr double kExpA = 0.35815147, kExpB = 0.96963238, kExpC = 1.0;
  const auto s = static_cast<float>(logit_scale);
  const float recip = 1.0f / s;
  IntExpParams p;
  p.x0 = static_cast<int32_t>(std::floor(recip * -0.6931f));
  p.b = static_cast<int32_t>(std::floor(recip * static_cast<float>(kExpB / kExpA)));
  p.c = static_cast<int32_t>(std::floor((1.0f / (s * s)) * static_cast<float>(kExpC / kExpA)));
  int n = max_n;
  while (n > 0 && (static_cast<int64_t>(p.c) << n) >= (int64_t{1} << 31)) --n;
  p.n = n;
  return p;
}

AttentionParams attention_params(const ActQuant& qkv, const ActQuant& logits, const ActQuant& probs,
                                 const ActQuant& out, int64_t tokens, int64_t heads, int64_t head_dim,
                                 const std::string& origin) {
  AttentionParams p;
  p.tokens = tokens, p.heads = heads, p.head_dim = head_dim;
  p.qkv_zero_point = qkv.zero_point;
  const auto attn_scale = static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5));  // the graph's float
  const double s_qkv = qkv.scale[0], s_logit = logits.scale[0];
  p.score_multiplier = fixed_multiplier_from_real(s_qkv * s_qkv * static_cast<double>(attn_scale) / s_logit, origin,
                                                  logits.point + " score multiplier (s_qkv^2 head_dim^-0.5 / s)");
  p.logit_zero_point = logits.zero_point, p.logit_lo = logits.lo, p.logit_hi = logits.hi;
  p.out_zero_point = out.zero_point, p.lo = out.lo, p.hi = out.hi;
  const std::string field = field_of(probs.point);
  if (probs.kind == "lis") {
    p.softmax = SoftmaxKind::kLog2;
    p.log2_bits = probs.bits;
    if (probs.bits > 4) fail(origin, field + ".bits", std::to_string(probs.bits), "2..4 for Log-Int-Softmax");
    p.exp = int_exp_params(s_logit, probs.exp_shift);
    const int zero_code = 1 << probs.bits;
    // A logit clamped at n x0 must still land on the zero code: k >= n there, so n >= 2^bits.
    if (p.exp.n < zero_code || p.exp.c < 1) {
      fail(origin, field + ".exp_shift", "i-exp shift " + std::to_string(p.exp.n) + " for logit scale " + text(s_logit),
           ">= " + std::to_string(zero_code) + " with c 2^n < 2^31 (logit scale too fine for int32 i-exp)");
    }
    if (tokens * 255 * (int64_t{1} << (zero_code - 1)) >= (int64_t{1} << 31)) {
      fail(origin, field, std::to_string(tokens) + " tokens at " + std::to_string(probs.bits) + " bits",
           "tokens * 255 * 2^(2^bits - 1) < 2^31 (attn x V accumulator)");
    }
    for (int d = 0; d < 256; ++d) p.exp_table.push_back(int_exp(-d, p.exp));
    p.context_multiplier = fixed_multiplier_from_real(std::ldexp(s_qkv, -(zero_code - 1)) / out.scale[0], origin,
                                                      out.point + " context multiplier");
  } else {
    p.softmax = SoftmaxKind::kUniform;
    for (int d = 0; d < 256; ++d) {
      p.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-s_logit * d), 30))));
    }
    const double s_p = probs.scale[0];
    p.prob_reciprocal_q16 = static_cast<int64_t>(std::llround(65536.0 / s_p));
    if (p.prob_reciprocal_q16 >= (int64_t{1} << 31)) fail(origin, field + ".scale", text(s_p), "above 2^-15");
    p.prob_zero_point = probs.zero_point, p.prob_lo = probs.lo, p.prob_hi = probs.hi;
    p.context_multiplier =
        fixed_multiplier_from_real(s_p * s_qkv / out.scale[0], origin, out.point + " context multiplier");
  }
  return p;
}

GeluParams gelu_params(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out, const std::string& origin) {
  GeluParams p;
  p.channels = fc1.out;
  const double s_out = out.scale[0], s_h = std::ldexp(s_out, -kGeluFracBits);
  for (int64_t o = 0; o < fc1.out; ++o) {
    const double acc_scale = in.scale[0] * fc1.scale[static_cast<size_t>(o)];
    const FixedMultiplier m = fixed_multiplier_from_real(acc_scale / s_h, origin, fc1.name + " GELU input multiplier");
    p.to_h.push_back(m);
    // fc1's bias is rounded to accumulator units (linear_params); its fraction goes into the rounding offset.
    if (!fc1.bias.empty()) {
      const double b = static_cast<double>(fc1.bias[static_cast<size_t>(o)]) / acc_scale;
      const double f = b - static_cast<double>(std::llround(b));
      p.to_h_rounding_offset.push_back(static_cast<int32_t>(std::llround(f * static_cast<double>(m.mantissa_q31))));
    }
  }
  // code(h) = clamp(round(gelu(h s_h) / s_out) + zp): exact erf GELU in double, half to even as the fake path.
  auto code = [&](int64_t h) {
    const double x = static_cast<double>(h) * s_h;
    const double g = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    return clamp_code(static_cast<int64_t>(std::nearbyint(g / s_out)) + out.zero_point, out.lo, out.hi);
  };
  constexpr int64_t kH = int64_t{1} << 30;
  constexpr double kArgminX = -0.7517915246;  // argmin of x Phi(x)
  const int64_t h_min = std::llround(kArgminX / s_h);
  p.h_argmin = static_cast<int32_t>(h_min);
  p.code_at_argmin = code(h_min);
  // Right branch (increasing): the first h with code >= c, by bisection.
  for (int32_t c = p.code_at_argmin + 1; c <= out.hi; ++c) {
    if (code(kH) < c) break;
    int64_t lo = h_min, hi = kH;  // code(lo) < c <= code(hi)
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      (code(mid) >= c ? hi : lo) = mid;
    }
    p.rise.push_back(static_cast<int32_t>(hi));
  }
  // Left branch (decreasing as h grows): the last h below the argmin with code >= c.
  std::vector<int32_t> fall;
  for (int32_t c = p.code_at_argmin + 1; c <= out.hi; ++c) {
    if (code(-kH) < c) break;
    int64_t lo = -kH, hi = h_min;  // code(lo) >= c > code(hi)
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      (code(mid) >= c ? lo : hi) = mid;
    }
    fall.push_back(static_cast<int32_t>(lo));
  }
  p.fall.assign(fall.rbegin(), fall.rend());
  build_gelu_buckets(p);
  return p;
}

namespace {

struct Shrink {
  static void linear(LinearParams& p) {
    p.bias.shrink_to_fit(), p.multiplier.shrink_to_fit(), p.rounding_offset.shrink_to_fit();
  }
  static void residual(ResidualAddParams& p) { p.a_multiplier.shrink_to_fit(), p.b_multiplier.shrink_to_fit(); }
  void operator()(PatchEmbedOp& p) const { p.requant.bias.shrink_to_fit(), p.requant.multiplier.shrink_to_fit(); }
  void operator()(EmbedOp& p) const {
    p.params.prefix_codes.shrink_to_fit(), p.params.pos_codes.shrink_to_fit();
    residual(p.params.add_pos);
  }
  void operator()(LayerNormOp& p) const {
    LayerNormParams& l = p.params;
    l.in_shift.shrink_to_fit(), l.gamma.shrink_to_fit(), l.beta_q32.shrink_to_fit();
    l.zero_variance_code.shrink_to_fit();
  }
  void operator()(LinearOp& p) const { linear(p.params); }
  void operator()(AttentionOp& p) const { p.params.exp_table.shrink_to_fit(); }
  void operator()(MlpUpOp& p) const {
    linear(p.linear);
    GeluParams& g = p.gelu;
    g.to_h.shrink_to_fit(), g.to_h_rounding_offset.shrink_to_fit(), g.rise.shrink_to_fit(), g.fall.shrink_to_fit(), g.bucket_code.shrink_to_fit();
    g.bucket_step.shrink_to_fit(), g.bucket_delta.shrink_to_fit(), g.bucket_packed.shrink_to_fit();
  }
  void operator()(ResidualAddOp& p) const { residual(p.params); }
  void operator()(HeadOp& p) const { linear(p.head), linear(p.head_dist); }
};

}  // namespace

int64_t float_model_bytes(const QuantizedFile& file) {
  int64_t elements = 0;
  for (const auto& [name, w] : file.weights) elements += static_cast<int64_t>(w.codes.size());
  for (const std::string& name : file.float_tensors) elements += shape_numel(file.file.info(name).shape);
  return 4 * elements;
}

void shrink_to_fit(OpParams& params) { std::visit(Shrink{}, params); }

std::vector<uint8_t> constant_codes(const float* x, int64_t n, const ActQuant& q) {
  std::vector<uint8_t> codes(static_cast<size_t>(n));
  const QParams qp = q.qparams();
  const BitType bt{q.bits, false};
  for (int64_t i = 0; i < n; ++i) codes[static_cast<size_t>(i)] = static_cast<uint8_t>(quantize(x[i], qp, bt));
  return codes;
}

}  // namespace fqvit::lower
