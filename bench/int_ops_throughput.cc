// Nanoseconds per element of the integer executor's non-GEMM kernels (include/fqvit/kernels/int_ops.h) on the
// ViT-Tiny shapes (197 tokens, 3 heads of 64, 192 / 768 channels), one core, reference and AVX-512 kernels, with
// parameters of the shape the lowering builds (random scales, the GELU tables of lower::gelu_params). An element is
// one output code, except for attention, whose figures are per (query, key) pair of one head (T^2 per head: q k^T
// does head_dim multiply-adds per pair, attn x V head_dim more). "attention head fused" is what the executor runs
// (attention_rows_avx512.cc, 4-row blocks); the three stage rows below it are the stage kernels on their own (the
// teacher-forced tests' form, attention_avx512.cc), for where the time goes. Prints figures; asserts only that every
// AVX-512 kernel's output equals the reference's (a wrong fast kernel is not fast). Times are the fastest of repeated
// runs.
//
//   fqvit-bench-int-ops [--seconds S] [--only NAME]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "best_seconds.h"
#include "fqvit/kernels/gemm.h"
#include "fqvit/kernels/int_ops.h"
#include "fqvit/lower/lower.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/plus_x86.h"
#include "lower/lower_ops.h"

namespace {

using namespace fqvit;

using fqvit::bench::best_seconds;

double log_uniform(std::mt19937& rng, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "bench", "multiplier"); }

std::vector<uint8_t> random_codes(int64_t n, std::mt19937& rng, int lo = 0, int hi = 255) {
  std::uniform_int_distribution<int> u8(lo, hi);
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<uint8_t>(u8(rng));
  return v;
}

// ViT-Tiny-like attention: logits spread so that the softmax has a few dominant keys per row.
AttentionParams attention(SoftmaxKind kind, std::mt19937& rng) {
  AttentionParams a;
  a.tokens = 197, a.heads = 3, a.head_dim = 64;
  a.qkv_zero_point = 128;
  a.score_multiplier = mult(1.0 / (64.0 * 200));
  a.logit_zero_point = 128;
  a.softmax = kind;
  const double s = 0.05;
  if (kind == SoftmaxKind::kLog2) {
    a.exp = lower::int_exp_params(s, 30);
    for (int d = 0; d < 256; ++d) a.exp_table.push_back(int_exp(-d, a.exp));
    a.log2_bits = 4;
    a.context_multiplier = mult(std::ldexp(1.0, -15) * 0.7);
  } else {
    for (int d = 0; d < 256; ++d)
      a.exp_table.push_back(static_cast<int32_t>(std::llround(std::ldexp(std::exp(-s * d), 30))));
    a.prob_reciprocal_q16 = 65536 * 255;
    a.prob_zero_point = 0;
    a.context_multiplier = mult(1.0 / 300);
  }
  a.out_zero_point = 128;
  (void)rng;
  return a;
}

GeluParams gelu_table(int64_t channels, std::mt19937& rng) {
  lower::WeightCodes fc1;
  fc1.name = "fc1";
  fc1.out = 1, fc1.in = 1;
  fc1.scale = {1.0};
  lower::ActQuant in, out;
  in.scale = {1.0};
  out.scale = {0.02};
  out.zero_point = static_cast<int32_t>(std::llround(0.17 / out.scale[0])) + 1;
  out.point = "mlp.qact1";
  GeluParams p = lower::gelu_params(fc1, in, out, "bench");
  p.channels = channels;
  p.to_h.clear();
  for (int64_t c = 0; c < channels; ++c) p.to_h.push_back(mult(log_uniform(rng, 0.02, 0.08)));
  return p;
}

LayerNormParams layer_norm(int64_t c, std::mt19937& rng) {
  LayerNormParams p;
  p.channels = c;
  p.in_zero_point = 128;
  p.multiplier_bits = 8;
  p.out_zero_point = 128;
  for (int64_t i = 0; i < c; ++i) {
    p.in_shift.push_back(static_cast<uint8_t>(i % 3 == 0 ? 1 : 0));
    p.gamma.push_back(mult(log_uniform(rng, 0.5, 50)));
    p.beta_q32.push_back(std::llround(std::ldexp(std::uniform_real_distribution<double>(-4, 4)(rng), 32)));
    p.zero_variance_code.push_back(128);
  }
  return p;
}

struct Row {
  std::string op;
  int64_t elements;
  std::function<void()> ref, fast;
  std::function<bool()> equal;
};

void print(const Row& r, double seconds) {
  const double t_ref = best_seconds(r.ref, seconds), t_fast = best_seconds(r.fast, seconds);
  std::printf("%-34s %10lld %10.3f %10.3f %8.1fx %s\n", r.op.c_str(), static_cast<long long>(r.elements),
              1e9 * t_ref / double(r.elements), 1e9 * t_fast / double(r.elements), t_ref / t_fast,
              r.equal() ? "" : "  MISMATCH");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ns per element of the integer non-GEMM kernels, ViT-Tiny shapes, one core"};
  double seconds = 0.5;
  std::string only;
  app.add_option("--seconds", seconds, "time per kernel and path");
  app.add_option("--only", only, "run only the kernels whose name contains this (e.g. for perf)");
  CLI11_PARSE(app, argc, argv);
  if (!kernels::cpu_has_avx512_vnni()) {
    std::printf("this CPU has no AVX-512 VNNI: nothing to compare\n");
    return 0;
  }
  std::mt19937 rng(1);
  std::vector<Row> rows;
  const int64_t t = 197, dim = 192;
  const std::vector<uint8_t> qkv = random_codes(t * 3 * dim, rng, 96, 160);
  std::vector<uint8_t> out_ref(static_cast<size_t>(t * dim)), out_fast(out_ref.size());
  std::vector<uint8_t> logits(static_cast<size_t>(t * t)), probs(logits.size()), probs_fast(logits.size());
  std::vector<int32_t> exp(static_cast<size_t>(t));
  std::vector<uint8_t> kind_probs[2];
  AttentionScratch s_ref, s_fast;
  for (const SoftmaxKind kind : {SoftmaxKind::kLog2, SoftmaxKind::kUniform}) {
    const AttentionParams a = attention(kind, rng);
    const std::string k = kind == SoftmaxKind::kLog2 ? " (LIS 4)" : " (uniform 8)";
    attention_logits_ref(a, qkv.data(), 0, logits.data());
    std::vector<uint8_t>& p = kind_probs[kind == SoftmaxKind::kLog2 ? 0 : 1];
    p.resize(logits.size());
    for (int64_t r = 0; r < t; ++r) softmax_row_ref(a, logits.data() + r * t, exp.data(), p.data() + r * t);
    rows.push_back({"attention head fused" + k, t * t,
                    [&, a] {
                      for (int64_t h = 0; h < 3; ++h) attention_head_ref(a, qkv.data(), h, s_ref, out_ref.data());
                    },
                    [&, a] {
                      for (int64_t h = 0; h < 3; ++h)
                        kernels::attention_head_avx512(a, qkv.data(), h, s_fast, out_fast.data());
                    },
                    [&] { return out_ref == out_fast; }});
    rows.back().elements *= 3;
    rows.push_back({"  stage q k^T" + k, t * t, [&, a] { attention_logits_ref(a, qkv.data(), 0, probs.data()); },
                    [&, a] { kernels::attention_logits_avx512(a, qkv.data(), 0, probs_fast.data()); },
                    [&] { return probs == probs_fast; }});
    rows.push_back({"  stage softmax" + k, t * t,
                    [&, a] {
                      for (int64_t r = 0; r < t; ++r)
                        softmax_row_ref(a, logits.data() + r * t, exp.data(), probs.data() + r * t);
                    },
                    [&, a] {
                      for (int64_t r = 0; r < t; ++r)
                        kernels::softmax_row_avx512(a, logits.data() + r * t, exp.data(), probs_fast.data() + r * t);
                    },
                    [&] { return probs == probs_fast; }});
    rows.push_back({"  stage attn x V" + k, t * t,
                    [&, a] { attention_context_ref(a, p.data(), qkv.data(), 0, out_ref.data()); },
                    [&, a] { kernels::attention_context_avx512(a, p.data(), qkv.data(), 0, out_fast.data()); },
                    [&] { return out_ref == out_fast; }});
  }
  const GeluParams g = gelu_table(4 * dim, rng);
  std::vector<int32_t> acc(static_cast<size_t>(t * 4 * dim));
  std::normal_distribution<double> normal(0, 6000);
  for (auto& v : acc) v = static_cast<int32_t>(normal(rng));
  std::vector<uint8_t> g_ref(acc.size()), g_fast(acc.size());
  rows.push_back({"gelu (768 channels)", t * 4 * dim, [&] { gelu_ref(g, acc.data(), t, g_ref.data()); },
                  [&] { kernels::gelu_avx512(g, acc.data(), t, g_fast.data()); }, [&] { return g_ref == g_fast; }});
  // fc1 + GELU of one image: the two-pass form (VNNI GEMM to int32, then the GELU pass) in the "ref" column, the
  // fused lookup epilogue (linear_gelu) in the other: the GEMM's cost is in both.
  std::vector<int8_t> w1(static_cast<size_t>(4 * dim * dim));
  std::uniform_int_distribution<int> s8(-128, 127);
  for (auto& v : w1) v = static_cast<int8_t>(s8(rng) / 8);
  const PackedWeights fc1(w1.data(), 4 * dim, dim);
  const std::vector<uint8_t> fc1_in = random_codes(t * dim, rng, 64, 192);
  std::vector<int32_t> fc1_bias(static_cast<size_t>(4 * dim), -128 * 4 * dim);
  std::vector<int32_t> fc1_acc(static_cast<size_t>(t * 4 * dim));
  rows.push_back({"fc1 + gelu: two passes | fused", t * 4 * dim,
                  [&] {
                    gemm_u8s8s32(fc1, t, fc1_in.data(), dim, fc1_bias.data(), fc1_acc.data(), 4 * dim);
                    kernels::gelu_avx512(g, fc1_acc.data(), t, g_ref.data());
                  },
                  [&] { linear_gelu(fc1, t, fc1_in.data(), dim, fc1_bias.data(), g, g_fast.data()); },
                  [&] { return g_ref == g_fast; }});
  const LayerNormParams ln = layer_norm(dim, rng);
  const std::vector<uint8_t> x = random_codes(t * dim, rng, 64, 192), y = random_codes(t * dim, rng);
  rows.push_back({"layer_norm (192 channels)", t * dim, [&] { layer_norm_ref(ln, x.data(), t, out_ref.data()); },
                  [&] { kernels::layer_norm_avx512(ln, x.data(), t, out_fast.data()); },
                  [&] { return out_ref == out_fast; }});
  // The general (int128 halves) form the fast one falls back to, against the fast form; then both in the
  // executor's calls of at most 32 rows (the per-call channel constants are paid per call); then the float-LN files'
  // 24-bit M.
  rows.push_back({"layer_norm: split form | fast", t * dim,
                  [&] { kernels::layer_norm_split_avx512(ln, x.data(), t, out_ref.data()); },
                  [&] { kernels::layer_norm_avx512(ln, x.data(), t, out_fast.data()); },
                  [&] { return out_ref == out_fast; }});
  auto in_blocks = [t, dim](auto kernel) {
    for (int64_t r = 0; r < t; r += 32) kernel(r, std::min<int64_t>(32, t - r));
    (void)dim;
  };
  rows.push_back({"layer_norm 32-row calls: split|fast", t * dim,
                  [&] {
                    in_blocks([&](int64_t r, int64_t n) {
                      kernels::layer_norm_split_avx512(ln, x.data() + r * dim, n, out_ref.data() + r * dim);
                    });
                  },
                  [&] {
                    in_blocks([&](int64_t r, int64_t n) {
                      kernels::layer_norm_avx512(ln, x.data() + r * dim, n, out_fast.data() + r * dim);
                    });
                  },
                  [&] { return out_ref == out_fast; }});
  LayerNormParams ln24 = ln;
  ln24.multiplier_bits = 24;
  ln24.variance_epsilon = 1000;
  rows.push_back({"layer_norm 24-bit M (float-LN form)", t * dim,
                  [&] { layer_norm_ref(ln24, x.data(), t, out_ref.data()); },
                  [&] { kernels::layer_norm_avx512(ln24, x.data(), t, out_fast.data()); },
                  [&] { return out_ref == out_fast; }});
  ResidualAddParams ra;
  ra.channels = dim;
  ra.a_zero_point = 128, ra.b_zero_point = 120, ra.out_zero_point = 128;
  for (int64_t c = 0; c < dim; ++c) ra.a_multiplier.push_back({1 << 30, -1}), ra.b_multiplier.push_back({1 << 29, -1});
  rows.push_back({"residual_add (192 channels)", t * dim,
                  [&] { residual_add_ref(ra, x.data(), y.data(), t, out_ref.data()); },
                  [&] { kernels::residual_add_avx512(ra, x.data(), y.data(), t, out_fast.data()); },
                  [&] { return out_ref == out_fast; }});
  // The fqvit_plus kernels (int_ops_plus.h) against their reference kernels, ViT-Tiny shapes.
  const AttentionParams a4 = attention(SoftmaxKind::kLog2, rng);
  ChannelRequantParams ctx;
  for (int64_t j = 0; j < dim; ++j) {
    ctx.multiplier.push_back(mult(a4.context_multiplier.mantissa_q31 * std::ldexp(1.0, a4.context_multiplier.exponent - 31) *
                                  std::ldexp(1.0, -static_cast<int>(j % 4))));
    ctx.zero_point.push_back(static_cast<int32_t>(100 + j % 50));
  }
  rows.push_back({"plus attention, channel context", t * t * 3,
                  [&, a4] {
                    for (int64_t h = 0; h < 3; ++h) {
                      attention_logits_ref(a4, qkv.data(), h, logits.data());
                      for (int64_t r = 0; r < t; ++r) {
                        softmax_row_ref(a4, logits.data() + r * t, exp.data(), probs.data() + r * t);
                      }
                      attention_context_channel_ref(a4, ctx, probs.data(), qkv.data(), h, out_ref.data());
                    }
                  },
                  [&, a4] {
                    for (int64_t h = 0; h < 3; ++h) {
                      kernels::attention_rows_channel_avx512(a4, ctx, qkv.data(), h, 0, t, out_fast.data());
                    }
                  },
                  [&] { return out_ref == out_fast; }});
  rows.push_back({"  same, per-tensor context", t * t * 3,
                  [&, a4] {
                    for (int64_t h = 0; h < 3; ++h) attention_head_ref(a4, qkv.data(), h, s_ref, out_ref.data());
                  },
                  [&, a4] {
                    for (int64_t h = 0; h < 3; ++h) kernels::attention_rows_avx512(a4, qkv.data(), h, 0, t, out_fast.data());
                  },
                  [&] { return out_ref == out_fast; }});
  LayerNormWideParams lnw;
  lnw.channels = dim;
  std::vector<uint16_t> x16(static_cast<size_t>(t * dim)), add16_ref(x16.size()), add16_fast(x16.size());
  std::uniform_int_distribution<int> code16(30000, 36000);
  for (auto& v : x16) v = static_cast<uint16_t>(code16(rng));
  for (int64_t i = 0; i < dim; ++i) {
    lnw.in_zero_point.push_back(33000 + static_cast<int32_t>(i));
    lnw.in_shift.push_back(static_cast<uint8_t>(i == 41 ? 6 : i % 3));
    lnw.gamma.push_back(mult(log_uniform(rng, 0.5, 50)));
    lnw.beta_q32.push_back(std::llround(std::ldexp(std::uniform_real_distribution<double>(-4, 4)(rng), 32)));
    lnw.zero_variance_code.push_back(128);
    lnw.out_zero_point.push_back(100 + static_cast<int32_t>(i % 40));
  }
  rows.push_back({"plus layer_norm_wide (192, u16)", t * dim,
                  [&] { layer_norm_wide_ref(lnw, x16.data(), t, out_ref.data()); },
                  [&] { kernels::layer_norm_wide_avx512(lnw, x16.data(), t, out_fast.data()); },
                  [&] { return out_ref == out_fast; }});
  ResidualAddChannelParams rac;
  rac.channels = dim;
  rac.hi = 65535;
  for (int64_t c = 0; c < dim; ++c) {
    rac.a_zero_point.push_back(33000), rac.b_zero_point.push_back(120), rac.out_zero_point.push_back(32768);
    rac.a_multiplier.push_back({1 << 30, -1}), rac.b_multiplier.push_back({1 << 29, -1});
  }
  rows.push_back({"plus residual_add (u16 + u8 -> u16)", t * dim,
                  [&] { residual_add_channel_ref(rac, x16.data(), y.data(), t, add16_ref.data()); },
                  [&] { kernels::residual_add_channel_avx512(rac, x16.data(), y.data(), t, add16_fast.data()); },
                  [&] { return add16_ref == add16_fast; }});
  std::printf("%-34s %10s %10s %10s %9s\n", "kernel (one core)", "elements", "ref ns/el", "avx512", "speed-up");
  for (const Row& r : rows) {
    if (r.op.find(only) != std::string::npos) print(r, seconds);
  }
  return 0;
}
