#include "lower/lower_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "fqvit/core/error.h"
#include "fqvit/lower/lower.h"
#include "fqvit/quant/lis_params.h"
#include "fqvit/quant/log_int_softmax.h"
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

double ActQuant::folded_scale() const {
  return scale.size() == 1 ? scale[0] : std::ldexp(scale[0], -(alpha.empty() ? 0 : int{alpha[0]}));
}

ActQuant act_quant(const QuantizerRecord& r, const std::string& point, const std::string& origin, int max_bits) {
  const std::string field = field_of(point);
  const BitType bt = r.bit_type;
  if (bt.is_signed || bt.bits < kMinBits || bt.bits > max_bits) {
    fail(origin, field + ".bits", bt.name(),
         max_bits > 8 ? "uint2..uint16 (residual stream codes)"
                      : "uint2..uint8 (the integer kernels hold codes in uint8)");
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
    single("scale1", floats("scale1").size());
    single("zero_point", ints("zero_point").size());
    PtfParams p;
    p.bit_type = bt;
    p.scale1 = floats("scale1")[0];
    if (!(p.scale1 > 0.0f) || !std::isfinite(p.scale1)) {
      fail(origin, field + ".scale1", text(static_cast<double>(p.scale1)), "finite and positive");
    }
    for (const int32_t al : ints("alpha")) {
      if (al < 0 || al > kPtfMaxK) {
        fail(origin, field + ".alpha", std::to_string(al), "0.." + std::to_string(kPtfMaxK) + " (PTF K)");
      }
      p.alpha.push_back(static_cast<uint8_t>(al));
    }
    for (const float sc : p.channel_scales()) a.scale.push_back(static_cast<double>(sc));
    a.alpha = p.alpha;
    a.zero_point = ints("zero_point")[0];
    if (r.ints.count("zero_points")) {  // fqvit_plus: one zero point per channel
      a.zero_points = ints("zero_points");
      if (a.zero_points.size() != a.alpha.size()) {
        fail(origin, field + ".zero_points", std::to_string(a.zero_points.size()) + " values",
             std::to_string(a.alpha.size()) + " (one per channel, as alpha)");
      }
    }
  } else if (r.kind == "lis") {
    single("exp_shift", ints("exp_shift").size());
    a.exp_shift = ints("exp_shift")[0];
    if (a.exp_shift < 8 || a.exp_shift > kLisReferenceShift) {
      fail(origin, field + ".exp_shift", std::to_string(a.exp_shift), "8..30");
    }
    if (r.ints.count("refine_logits")) {
      single("refine_logits", ints("refine_logits").size());
      const int32_t refine = ints("refine_logits")[0];
      if (refine != 0 && refine != 1) fail(origin, field + ".refine_logits", std::to_string(refine), "0 or 1");
      a.refine_logits = refine == 1;
    }
  } else {
    fail(origin, field + ".kind", r.kind, "uniform, ptf or lis (the kinds the integer executor runs)");
  }
  if (r.kind != "lis" && (a.zero_point < a.lo || a.zero_point > a.hi)) {
    fail(origin, field + ".zero_point", std::to_string(a.zero_point),
         "within [" + std::to_string(a.lo) + ", " + std::to_string(a.hi) + "] of " + bt.name());
  }
  for (const int32_t zp : a.zero_points) {
    if (zp < a.lo || zp > a.hi) {
      fail(origin, field + ".zero_points", std::to_string(zp),
           "within [" + std::to_string(a.lo) + ", " + std::to_string(a.hi) + "] of " + bt.name());
    }
  }
  for (double sc : a.scale) {
    if (!(sc > 0.0) || !std::isfinite(sc)) fail(origin, field + ".scale", text(sc), "finite and positive");
  }
  return a;
}

ActQuant act_quant(const QuantizedFile& file, const std::string& point, const std::string& origin, int max_bits) {
  const auto it = file.activations.find(point);
  if (it == file.activations.end()) fail(origin, field_of(point), "missing", "a quantizer at every point");
  return act_quant(it->second, point, origin, max_bits);
}

WeightCodes weight_codes(const QuantizedFile& file, const std::string& name, const Shape& shape,
                         const std::string& bias, const std::string& origin) {
  const std::string field = "quantizers.weights." + name;
  const auto it = file.weights.find(name);
  if (it == file.weights.end()) fail(origin, field, "missing", "a quantized weight");
  const QuantizedWeight& q = it->second;
  if (q.shape != shape) fail(origin, q.tensor + ".shape", shape_to_string(q.shape), shape_to_string(shape));
  if (!q.bit_type.is_signed || q.bit_type.bits > 8) fail(origin, field + ".bits", q.bit_type.name(), "int2..int8");
  WeightCodes w;
  w.name = name;
  w.out = shape[0];
  w.in = shape_numel(shape) / w.out;
  w.codes = q.codes;  // checked within bit_type by the reader; with folded inputs, the codes of W[o, k] 2^e[k]
  w.input_exponent = q.input_exponent;
  if (!w.input_exponent.empty() && static_cast<int64_t>(w.input_exponent.size()) != w.in) {
    fail(origin, q.tensor + "_input_exponent", std::to_string(w.input_exponent.size()) + " exponents",
         std::to_string(w.in) + " (one per input column)");
  }
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

LinearParams linear_params(const WeightCodes& w, const ActQuant& in, const ActQuant& out, const std::string& origin,
                           int out_bits) {
  if (in.per_channel()) {
    // Per-channel input factors are only integer when they live in the weight columns (extension channel_inputs).
    bool folded = static_cast<int64_t>(w.input_exponent.size()) == w.in && in.alpha.size() == w.input_exponent.size();
    for (size_t k = 0; folded && k < in.alpha.size(); ++k) folded = w.input_exponent[k] == int32_t{in.alpha[k]};
    if (!folded) {
      fail(origin, "quantizers.weights." + w.name + "_input_exponent",
           w.input_exponent.empty() ? "none" : "exponents other than the input's",
           "the PTF exponents of " + in.point + " folded into the columns of " + w.name);
    }
  }
  if (out.bits > out_bits) {
    fail(origin, field_of(out.point) + ".bits", std::to_string(out.bits),
         out_bits > 8 ? "at most " + std::to_string(out_bits) : std::string("at most 8 (uint8 GEMM output)"));
  }
  if (out.scale.size() != 1 && static_cast<int64_t>(out.scale.size()) != w.out) {
    fail(origin, field_of(out.point), std::to_string(out.scale.size()) + " channel scales",
         "1 or " + std::to_string(w.out) + " (the outputs of " + w.name + ")");
  }
  LinearParams p;
  p.in = w.in, p.out = w.out;
  p.weights = std::make_shared<PackedWeights>(w.codes.data(), w.out, w.in);
  p.zero_point = out.zero_point, p.lo = out.lo, p.hi = out.hi;
  const double s_in = in.folded_scale();
  for (int64_t o = 0; o < w.out; ++o) {
    const double acc_scale = s_in * w.scale[static_cast<size_t>(o)];
    int64_t zero_term = 0;  // sum_k zp_k w[o][k]
    for (int64_t k = 0; k < w.in; ++k) {
      zero_term += int64_t{in.channel_zero_point(k)} * w.codes[static_cast<size_t>(o * w.in + k)];
    }
    const double b = w.bias.empty() ? 0.0 : static_cast<double>(w.bias[static_cast<size_t>(o)]) / acc_scale;
    if (!std::isfinite(b) || std::fabs(b) > 1e9) fail(origin, w.name + ".bias", text(b), "|bias / (s_in s_w)| < 2^30");
    const auto rounded = static_cast<int64_t>(std::llround(b));
    check_accumulator(rounded, w.in, origin, w.name + ".bias");
    p.bias.push_back(static_cast<int32_t>(rounded - zero_term));
    const FixedMultiplier m = fixed_multiplier_from_real(acc_scale / out.channel_scale(o), origin,
                                                         w.name + " requantization multiplier (s_in s_w / s_out)");
    p.multiplier.push_back(m);
    // The bias's fraction f in [-1/2, 1/2] of an accumulator unit, as a rounding offset (fixed_multiplier.h).
    const double f = b - static_cast<double>(rounded);
    p.rounding_offset.push_back(static_cast<int32_t>(std::llround(f * static_cast<double>(m.mantissa_q31))));
  }
  return p;
}

ChannelRequantParams channel_requant(const LinearParams& p, const ActQuant& out) {
  ChannelRequantParams r;
  r.multiplier = p.multiplier;
  r.rounding_offset = p.rounding_offset;  // the bias fractions linear_params kept
  for (int64_t o = 0; o < p.out; ++o) r.zero_point.push_back(out.channel_zero_point(o));
  r.lo = out.lo, r.hi = out.hi;
  return r;
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
    if (p.in_shift.back() > kPtfMaxAlpha) {
      fail(origin, field_of(in.point) + ".alpha", std::to_string(p.in_shift.back()), "0..3 (the paper's LayerNorm)");
    }
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
    // Refined logits (docs/quantization.md 11.11): i-exp on the codes d 2^m at the scale S 2^-m, exact (a shift;
    // d <= 255 and m <= 16 keep d 2^m < 2^24), the same m as the fake-quant emulation (lis_logit_shift).
    const int m = lis_logit_shift(static_cast<float>(s_logit), {probs.bits, probs.exp_shift, probs.refine_logits});
    p.logit_shift = m;
    p.exp = int_exp_params(std::ldexp(s_logit, -m), probs.exp_shift);
    const int zero_code = 1 << probs.bits;
    // i-exp's constant c = floor(1 / (a S^2)) is 0 for logit scales above ~1.67 (4-bit logits at W4A4): the
    // polynomial then has no positive value and every weight would be zero, in the reference's arithmetic too.
    if (p.exp.c < 1) {
      fail(origin, field_of(logits.point) + ".scale", text(s_logit),
           "below 1.67 (i-exp's c = floor(1 / (0.358 S^2)) is 0 above: logit scale too coarse for the reference's "
           "Log-Int-Softmax; the extension \"lis_logits\": \"refined\" runs it)");
    }
    // A logit clamped at n x0 must still land on the zero code: k >= n there, so n >= 2^bits.
    if (p.exp.n < zero_code) {
      fail(origin, field + ".exp_shift", "i-exp shift " + std::to_string(p.exp.n) + " for logit scale " + text(s_logit),
           ">= " + std::to_string(zero_code) + " with c 2^n < 2^31 (logit scale too fine for int32 i-exp)");
    }
    if (tokens * 255 * (int64_t{1} << (zero_code - 1)) >= (int64_t{1} << 31)) {
      fail(origin, field, std::to_string(tokens) + " tokens at " + std::to_string(probs.bits) + " bits",
           "tokens * 255 * 2^(2^bits - 1) < 2^31 (attn x V accumulator)");
    }
    for (int d = 0; d < 256; ++d) p.exp_table.push_back(int_exp(-(d << m), p.exp));
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

namespace {

// The threshold tables of code(h) = clamp(round_even(gelu(h s_out 2^-12) / s_out) + zp, lo, hi) (int_ops.h).
GeluParams gelu_tables(double s_out, int32_t zero_point, int32_t lo, int32_t hi) {
  GeluParams p;
  const double s_h = std::ldexp(s_out, -kGeluFracBits);
  // Exact erf GELU in double, half to even as the fake path.
  auto code = [&](int64_t h) {
    const double x = static_cast<double>(h) * s_h;
    const double g = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    return clamp_code(static_cast<int64_t>(std::nearbyint(g / s_out)) + zero_point, lo, hi);
  };
  constexpr int64_t kH = int64_t{1} << 30;
  constexpr double kArgminX = -0.7517915246;  // argmin of x Phi(x)
  const int64_t h_min = std::llround(kArgminX / s_h);
  p.h_argmin = static_cast<int32_t>(h_min);
  p.code_at_argmin = code(h_min);
  // Right branch (increasing): the first h with code >= c, by bisection.
  for (int32_t c = p.code_at_argmin + 1; c <= hi; ++c) {
    if (code(kH) < c) break;
    int64_t l = h_min, r = kH;  // code(l) < c <= code(r)
    while (r - l > 1) {
      const int64_t mid = l + (r - l) / 2;
      (code(mid) >= c ? r : l) = mid;
    }
    p.rise.push_back(static_cast<int32_t>(r));
  }
  // Left branch (decreasing as h grows): the last h below the argmin with code >= c.
  std::vector<int32_t> fall;
  for (int32_t c = p.code_at_argmin + 1; c <= hi; ++c) {
    if (code(-kH) < c) break;
    int64_t l = -kH, r = h_min;  // code(l) >= c > code(r)
    while (r - l > 1) {
      const int64_t mid = l + (r - l) / 2;
      (code(mid) >= c ? l : r) = mid;
    }
    fall.push_back(static_cast<int32_t>(l));
  }
  p.fall.assign(fall.rbegin(), fall.rend());
  return p;
}

}  // namespace

GeluParams gelu_params(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out, const std::string& origin) {
  const double s_out = out.scale[0], s_h = std::ldexp(s_out, -kGeluFracBits);
  GeluParams p = gelu_tables(s_out, out.zero_point, out.lo, out.hi);
  p.channels = fc1.out;
  for (int64_t o = 0; o < fc1.out; ++o) {
    const double acc_scale = in.folded_scale() * fc1.scale[static_cast<size_t>(o)];
    const FixedMultiplier m = fixed_multiplier_from_real(acc_scale / s_h, origin, fc1.name + " GELU input multiplier");
    p.to_h.push_back(m);
    // fc1's bias is rounded to accumulator units (linear_params); its fraction goes into the rounding offset.
    if (!fc1.bias.empty()) {
      const double bq = static_cast<double>(fc1.bias[static_cast<size_t>(o)]) / acc_scale;
      const double f = bq - static_cast<double>(std::llround(bq));
      p.to_h_rounding_offset.push_back(static_cast<int32_t>(std::llround(f * static_cast<double>(m.mantissa_q31))));
    }
  }
  build_gelu_buckets(p);
  return p;
}

GeluChannelParams gelu_channel_params(const WeightCodes& fc1, const ActQuant& in, const ActQuant& out,
                                      const std::string& origin) {
  if (out.hi > 255) fail(origin, field_of(out.point) + ".bits", std::to_string(out.bits), "at most 8");
  GeluChannelParams p;
  p.channels = fc1.out;
  p.lo = out.lo, p.hi = out.hi;
  // One table per distinct channel scale (PTF: s1 2^alpha, at most K + 1 of them), on the code relative to the
  // channel's zero point, clamped to the widest range any channel of the group can reach.
  std::map<double, uint8_t> group_of;
  std::vector<double> group_scale;
  std::vector<int32_t> zp_min, zp_max;
  for (int64_t c = 0; c < fc1.out; ++c) {
    const double s = out.channel_scale(out.per_channel() ? c : 0);
    const int32_t zp = out.channel_zero_point(out.per_channel() ? c : 0);
    auto [it, added] = group_of.emplace(s, static_cast<uint8_t>(group_scale.size()));
    if (added) {
      if (group_scale.size() >= 255) fail(origin, field_of(out.point) + ".scale", "more than 255 scales", "PTF scales");
      group_scale.push_back(s), zp_min.push_back(zp), zp_max.push_back(zp);
    }
    const uint8_t g = it->second;
    zp_min[g] = std::min(zp_min[g], zp), zp_max[g] = std::max(zp_max[g], zp);
    p.group.push_back(g);
    p.zero_point.push_back(zp);
    const double acc_scale = in.folded_scale() * fc1.scale[static_cast<size_t>(c)];
    const FixedMultiplier m =
        fixed_multiplier_from_real(acc_scale / std::ldexp(s, -kGeluFracBits), origin, fc1.name + " GELU input multiplier");
    p.to_h.push_back(m);
    // fc1's bias is rounded to accumulator units (linear_params); its fraction goes into the rounding offset.
    if (!fc1.bias.empty()) {
      const double bq = static_cast<double>(fc1.bias[static_cast<size_t>(c)]) / acc_scale;
      const double f = bq - static_cast<double>(std::llround(bq));
      p.to_h_rounding_offset.push_back(static_cast<int32_t>(std::llround(f * static_cast<double>(m.mantissa_q31))));
    }
  }
  for (size_t g = 0; g < group_scale.size(); ++g) {
    p.groups.push_back(gelu_tables(group_scale[g], 0, out.lo - zp_max[g], out.hi - zp_min[g]));
  }
  build_gelu_channel_buckets(p);
  return p;
}

ResidualAddChannelParams residual_add_channel_params(const ActQuant& a, const ActQuant& b, const ActQuant& out,
                                                     int64_t channels, const std::string& origin,
                                                     const std::string& field) {
  for (const ActQuant* q : {&a, &b, &out}) check_channels(*q, channels, origin);
  ResidualAddChannelParams p;
  p.channels = channels;
  p.lo = out.lo, p.hi = out.hi;
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t ca = a.per_channel() ? c : 0, cb = b.per_channel() ? c : 0, co = out.per_channel() ? c : 0;
    p.a_zero_point.push_back(a.channel_zero_point(ca));
    p.b_zero_point.push_back(b.channel_zero_point(cb));
    p.out_zero_point.push_back(out.channel_zero_point(co));
    const double ra = a.channel_scale(ca) / out.channel_scale(co), rb = b.channel_scale(cb) / out.channel_scale(co);
    const FixedMultiplier big = fixed_multiplier_from_real(std::max(ra, rb), origin, field);
    p.a_multiplier.push_back(fixed_multiplier_with_exponent(ra, big.exponent, origin, field));
    p.b_multiplier.push_back(fixed_multiplier_with_exponent(rb, big.exponent, origin, field));
  }
  return p;
}

LayerNormWideParams layer_norm_wide_params(const ActQuant& in, const ActQuant& out, const Tensor& gamma,
                                           const Tensor& beta, const std::string& origin) {
  const int64_t c_count = gamma.numel();
  if (c_count > kLayerNormWideMaxChannels) {
    fail(origin, out.point, std::to_string(c_count) + " channels",
         "at most " + std::to_string(kLayerNormWideMaxChannels) + " (int64 sums of 16-bit codes << 10)");
  }
  if (out.hi > 255) fail(origin, field_of(out.point) + ".bits", std::to_string(out.bits), "at most 8");
  check_channels(in, c_count, origin);
  check_channels(out, c_count, origin);
  LayerNormWideParams p;
  p.channels = c_count;
  p.lo = out.lo, p.hi = out.hi;
  uint8_t alpha_min = 255;
  for (uint8_t al : in.alpha) alpha_min = std::min(alpha_min, al);
  for (int64_t c = 0; c < c_count; ++c) {
    const int64_t ci = in.per_channel() ? c : 0, co = out.per_channel() ? c : 0;
    p.in_zero_point.push_back(in.channel_zero_point(ci));
    p.in_shift.push_back(in.alpha.empty() ? 0 : static_cast<uint8_t>(in.alpha[static_cast<size_t>(c)] - alpha_min));
    p.out_zero_point.push_back(out.channel_zero_point(co));
    // The emulation's float32 quotients (quant/int_layer_norm.cc): beta / s_out, rounded half to even.
    const auto s_out_f = static_cast<float>(out.channel_scale(co));
    const double s_out = out.channel_scale(co);
    const double g = static_cast<double>(gamma[c]) / s_out, bq = static_cast<double>(beta[c]) / s_out;
    p.gamma.push_back(fixed_multiplier_from_real(g, origin, out.point + " LayerNorm gamma / s_out"));
    if (!(std::fabs(bq) < 32768.0)) {
      fail(origin, out.point + " LayerNorm beta / s_out", text(bq), "|beta / s_out| < 2^15");
    }
    p.beta_q32.push_back(static_cast<int64_t>(std::llround(std::ldexp(bq, kLayerNormBetaFracBits))));
    const float zero_var = std::nearbyint(beta[c] / s_out_f);
    p.zero_variance_code.push_back(static_cast<uint8_t>(
        clamp_code(static_cast<int64_t>(zero_var) + p.out_zero_point.back(), out.lo, out.hi)));
  }
  return p;
}

ChannelRequantParams context_requant(const ActQuant& qkv, const ActQuant& probs, const ActQuant& out,
                                     const std::string& origin) {
  ChannelRequantParams r;
  r.lo = out.lo, r.hi = out.hi;
  if (out.hi > 255) fail(origin, field_of(out.point) + ".bits", std::to_string(out.bits), "at most 8");
  const double s_qkv = qkv.scale[0];
  // The attn x V accumulator's scale: s_v 2^-(2^b - 1) (log2 weights) or s_v s_p (uniform probabilities).
  const double acc_scale = probs.kind == "lis" ? std::ldexp(s_qkv, -((1 << probs.bits) - 1)) : s_qkv * probs.scale[0];
  for (size_t j = 0; j < out.scale.size(); ++j) {
    r.multiplier.push_back(
        fixed_multiplier_from_real(acc_scale / out.scale[j], origin, out.point + " context multiplier"));
    r.zero_point.push_back(out.channel_zero_point(static_cast<int64_t>(j)));
  }
  return r;
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
  void operator()(RowGatherOp& p) const { p.params.source.shrink_to_fit(); }
  void operator()(SwinAttentionOp& p) const {
    p.params.attention.exp_table.shrink_to_fit(), p.params.bias.shrink_to_fit(), p.params.region.shrink_to_fit();
  }
  void operator()(TokenMeanOp&) const {}
  // The fqvit_plus ops (int_ops_plus.h): their builders size every table exactly.
  template <typename PlusOp>
  void operator()(PlusOp&) const {}
};

}  // namespace

int64_t float_model_bytes(const QuantizedFile& file) {
  int64_t elements = 0;
  for (const auto& [name, w] : file.weights) elements += static_cast<int64_t>(w.codes.size());
  for (const std::string& name : file.float_tensors) elements += shape_numel(file.file.info(name).shape);
  return 4 * elements;
}

void shrink_to_fit(OpParams& params) { std::visit(Shrink{}, params); }

void emit_op(IntPlan& plan, std::string name, OpParams params, std::vector<int> inputs, int output) {
  shrink_to_fit(params);
  PlanOp op{std::move(name), std::move(params), std::move(inputs), output, {}, {}};
  for (int id : op.inputs) op.input_points.push_back(plan.buffers[static_cast<size_t>(id)].point);
  op.output_point = output >= 0 ? plan.buffers[static_cast<size_t>(output)].point : "scores";
  plan.ops.push_back(std::move(op));
}

std::vector<uint8_t> constant_codes(const float* x, int64_t n, const ActQuant& q) {
  std::vector<uint8_t> codes(static_cast<size_t>(n));
  const QParams qp = q.qparams();
  const BitType bt{q.bits, false};
  for (int64_t i = 0; i < n; ++i) codes[static_cast<size_t>(i)] = static_cast<uint8_t>(quantize(x[i], qp, bt));
  return codes;
}

PatchEmbedOp patch_embed_op(const WeightCodes& w, const ModelConfig& cfg, const ActQuant* input, const ActQuant& out,
                            const std::string& origin) {
  const PreprocessConfig& pre = cfg.preprocess;
  PatchEmbedOp op;
  op.input.channels = cfg.in_chans, op.input.image_size = cfg.img_size, op.input.patch = cfg.patch_size;
  if (cfg.in_chans != 3) fail(origin, "model_config.in_chans", std::to_string(cfg.in_chans), "3 (RGB pixels)");
  op.weights = std::make_shared<PackedWeights>(w.codes.data(), w.out, w.in);
  AccRequantParams& rq = op.requant;
  rq.zero_point = out.zero_point, rq.lo = out.lo, rq.hi = out.hi;
  const int64_t per_channel = w.in / 3;
  std::vector<double> input_scale(3), input_zero(3);  // real input = input_scale * (code - input_zero)
  if (input != nullptr) {
    // DeiT / Swin: the pixel's code under qact_input, through ToTensor + Normalize in float32 as preprocessing.
    const ActQuant& in = *input;
    for (int c = 0; c < 3; ++c) {
      for (int v = 0; v < 256; ++v) {
        const float x = (static_cast<float>(v) / 255.0f - pre.mean[static_cast<size_t>(c)]) / pre.std[static_cast<size_t>(c)];
        op.input.pixel_code[static_cast<size_t>(c)][static_cast<size_t>(v)] = constant_codes(&x, 1, in)[0];
      }
      input_scale[static_cast<size_t>(c)] = in.scale[0];
      input_zero[static_cast<size_t>(c)] = in.zero_point;
    }
  } else {
    // ViT: the pixel itself, x = (v / 255 - mean) / std = (v - 255 mean) / (255 std): one scale needs one std.
    for (int c = 0; c < 3; ++c) {
      if (pre.std[static_cast<size_t>(c)] != pre.std[0]) {
        std::ostringstream os;
        os << pre.std[0] << ", " << pre.std[1] << ", " << pre.std[2];
        fail(origin, "model_config.pretrained_cfg.std", os.str(),
             "one std for all channels when the input is not quantized (folded into one patch-embedding scale)");
      }
      for (int v = 0; v < 256; ++v) op.input.pixel_code[static_cast<size_t>(c)][static_cast<size_t>(v)] = static_cast<uint8_t>(v);
      input_scale[static_cast<size_t>(c)] = 1.0 / (255.0 * static_cast<double>(pre.std[0]));
      input_zero[static_cast<size_t>(c)] = 255.0 * static_cast<double>(pre.mean[static_cast<size_t>(c)]);
    }
  }
  // acc = (sum code * w) << g + bias: with a non-integer input zero point (ViT) the 2^g keeps the fold exact to
  // 2^-(g+1) accumulator units. g as large as the int32 bound allows, at most 8.
  const bool integral_zero = input != nullptr;
  int g = 0;
  if (!integral_zero) {
    while (g < 8 && (int64_t{255} * 128 * w.in << (g + 1)) * 2 < (int64_t{1} << 31)) ++g;
  }
  rq.gain_shift = g;
  for (int64_t o = 0; o < w.out; ++o) {
    const double acc_scale = input_scale[0] * w.scale[static_cast<size_t>(o)];
    double zero_term = 0;
    for (int c = 0; c < 3; ++c) {
      int64_t sum_w = 0;
      for (int64_t k = 0; k < per_channel; ++k) sum_w += w.codes[static_cast<size_t>(o * w.in + c * per_channel + k)];
      zero_term += input_zero[static_cast<size_t>(c)] * static_cast<double>(sum_w);
    }
    const double bias = std::ldexp(static_cast<double>(w.bias[static_cast<size_t>(o)]) / acc_scale - zero_term, g);
    if (!(std::fabs(bias) < std::ldexp(1.0, 30))) {
      fail(origin, "patch_embed.proj.bias", std::to_string(bias), "|folded bias| < 2^30 on the accumulator scale");
    }
    rq.bias.push_back(static_cast<int32_t>(std::llround(bias)));
    rq.multiplier.push_back(fixed_multiplier_from_real(std::ldexp(acc_scale, -g) / out.scale[0], origin,
                                                       "patch_embed.proj requantization multiplier"));
  }
  return op;
}

}  // namespace fqvit::lower
