// Nanoseconds per element of Swin's integer kernels (include/fqvit/kernels/swin_ops.h) on Swin-T's first stage
// (56 x 56 grid, windows of 7 x 7 = 49 tokens, shift 3, 3 heads of 32, 96 channels; the pool on the last stage's
// 49 x 768), one core, reference and AVX-512 kernels, parameters of the shape the lowering builds. An element is
// one output code (the bias add: one logit; the masked softmax: one probability of a masked window; gathers: one
// byte moved). "window attention (shifted block)" is one image's whole op (every window and head: q k^T, bias add,
// softmax masked where the shift cuts the window, attn x V), reference chain against the dispatching one. Prints
// figures; asserts only that every fast kernel's output equals the reference's. Times are the fastest of repeated
// runs.
//
//   fqvit-bench-swin-ops [--seconds S]
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
#include "fqvit/kernels/swin_ops.h"
#include "fqvit/lower/lower.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/swin_x86.h"
#include "lower/lower_ops.h"
#include "lower/lower_swin.h"

namespace {

using namespace fqvit;

using fqvit::bench::best_seconds;

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "bench", "multiplier"); }

std::vector<uint8_t> random_codes(int64_t n, std::mt19937& rng, int lo = 0, int hi = 255) {
  std::uniform_int_distribution<int> u8(lo, hi);
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<uint8_t>(u8(rng));
  return v;
}

// A shifted block of Swin-T's first stage under PTF + LIS 8/8/4.
SwinAttentionParams shifted_block(std::mt19937& rng) {
  constexpr int64_t kRes = 56, kWin = 7, kShift = 3, kHeads = 3, kHeadDim = 32;
  SwinAttentionParams p;
  AttentionParams& a = p.attention;
  a.tokens = kWin * kWin, a.heads = kHeads, a.head_dim = kHeadDim;
  a.qkv_zero_point = 128;
  a.score_multiplier = mult(1.0 / (32.0 * 200));
  a.logit_zero_point = 128;
  a.softmax = SoftmaxKind::kLog2;
  a.exp = lower::int_exp_params(0.05, 30);
  for (int d = 0; d < 256; ++d) a.exp_table.push_back(int_exp(-d, a.exp));
  a.log2_bits = 4;
  a.context_multiplier = mult(std::ldexp(1.0, -15) * 0.7);
  a.out_zero_point = 128;
  p.windows = (kRes / kWin) * (kRes / kWin);
  p.a_zero_point = 128;
  const FixedMultiplier big = mult(1.1);
  p.a_multiplier = fixed_multiplier_with_exponent(0.9, big.exponent, "bench", "a");
  const FixedMultiplier mt = fixed_multiplier_with_exponent(1.1, big.exponent, "bench", "t");
  std::uniform_int_distribution<int> u8(0, 255);
  for (int64_t i = 0; i < kHeads * a.tokens * a.tokens; ++i) p.bias.push_back(int64_t{u8(rng) - 128} * mt.mantissa_q31);
  p.biased_zero_point = 128;
  p.region = lower::swin_regions(kRes, kWin, kShift);
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
  std::printf("%-38s %10lld %10.3f %10.3f %8.1fx %s\n", r.op.c_str(), static_cast<long long>(r.elements),
              1e9 * t_ref / double(r.elements), 1e9 * t_fast / double(r.elements), t_ref / t_fast,
              r.equal() ? "" : "  MISMATCH");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ns per element of Swin's integer kernels, Swin-T shapes, one core"};
  double seconds = 0.5;
  app.add_option("--seconds", seconds, "time per kernel and path");
  CLI11_PARSE(app, argc, argv);
  if (!kernels::cpu_has_avx512_vnni()) {
    std::printf("fqvit-bench-swin-ops: this CPU has no AVX-512 VNNI; nothing to compare\n");
    return 0;
  }
  force_gemm_isa(GemmIsa::kAvx512Vnni);
  std::mt19937 rng(1);
  const SwinAttentionParams p = shifted_block(rng);
  const int64_t n = p.attention.tokens, square = n * n, heads = p.attention.heads, dim = heads * p.attention.head_dim;
  std::vector<Row> rows;

  // The bias add over every window and head of one image.
  const std::vector<uint8_t> a = random_codes(p.windows * heads * square, rng, 80, 200);
  std::vector<uint8_t> b_ref(a.size()), b_fast(a.size());
  rows.push_back({"bias add (64 windows x 3 heads)", static_cast<int64_t>(a.size()),
                  [&] {
                    for (int64_t wh = 0; wh < p.windows * heads; ++wh) {
                      swin_bias_logits_ref(p, wh % heads, a.data() + wh * square, b_ref.data() + wh * square);
                    }
                  },
                  [&] {
                    for (int64_t wh = 0; wh < p.windows * heads; ++wh) {
                      kernels::swin_bias_logits_avx512(p, wh % heads, a.data() + wh * square,
                                                       b_fast.data() + wh * square);
                    }
                  },
                  [&] { return b_ref == b_fast; }});

  // The masked softmax of the 15 windows the shift cuts (last row and column of windows), every head.
  std::vector<int64_t> masked;
  for (int64_t w = 0; w < p.windows; ++w) {
    if (p.window_has_mask(w)) masked.push_back(w);
  }
  std::vector<uint8_t> s_ref(a.size()), s_fast(a.size());
  std::vector<int32_t> exp(static_cast<size_t>(n));
  auto softmax_all = [&](bool fast, std::vector<uint8_t>& out) {
    for (const int64_t w : masked) {
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t at = (w * heads + h) * square;
        if (fast) {
          kernels::swin_masked_softmax_avx512(p, w, b_ref.data() + at, exp.data(), out.data() + at);
        } else {
          swin_masked_softmax_ref(p, w, b_ref.data() + at, exp.data(), out.data() + at);
        }
      }
    }
  };
  rows.push_back({"masked softmax (15 cut windows x 3)", static_cast<int64_t>(masked.size()) * heads * square,
                  [&] { softmax_all(false, s_ref); }, [&] { softmax_all(true, s_fast); },
                  [&] { return s_ref == s_fast; }});

  // The whole window attention of a shifted block, one image.
  const std::vector<uint8_t> qkv = random_codes(p.windows * n * 3 * dim, rng, 96, 160);
  std::vector<uint8_t> c_ref(static_cast<size_t>(p.windows * n * dim)), c_fast(c_ref.size());
  AttentionScratch scratch;
  rows.push_back({"window attention (shifted block)", p.windows * heads * square,
                  [&] {
                    for (int64_t wh = 0; wh < p.windows * heads; ++wh) {
                      const int64_t w = wh / heads;
                      swin_attention_head_ref(p, qkv.data() + w * n * 3 * dim, w, wh % heads, scratch,
                                              c_ref.data() + w * n * dim);
                    }
                  },
                  [&] {
                    for (int64_t wh = 0; wh < p.windows * heads; ++wh) {
                      const int64_t w = wh / heads;
                      swin_attention_head(p, qkv.data() + w * n * 3 * dim, w, wh % heads, scratch,
                                          c_fast.data() + w * n * dim);
                    }
                  },
                  [&] { return c_ref == c_fast; }});

  // The window attention's other stages on their own (int_ops.h's kernels, as the chain calls them), for where the
  // time goes: q k^T, the plain softmax (the windows the shift does not cut, a window's rows at a time), attn x V.
  std::vector<uint8_t> l_ref(a.size()), l_fast(a.size());
  auto stage_loop = [&](const std::function<void(int64_t, int64_t, const uint8_t*, int64_t)>& fn) {
    for (int64_t wh = 0; wh < p.windows * heads; ++wh) fn(wh / heads, wh % heads, qkv.data() + (wh / heads) * n * 3 * dim, wh * square);
  };
  rows.push_back({"  stage: q k^T", p.windows * heads * square,
                  [&] { stage_loop([&](int64_t, int64_t h, const uint8_t* q, int64_t at) { attention_logits_ref(p.attention, q, h, l_ref.data() + at); }); },
                  [&] { stage_loop([&](int64_t, int64_t h, const uint8_t* q, int64_t at) { attention_logits(p.attention, q, h, l_fast.data() + at); }); },
                  [&] { return l_ref == l_fast; }});
  rows.push_back({"  stage: softmax (plain rows)", p.windows * heads * square,
                  [&] { for (int64_t wh = 0; wh < p.windows * heads; ++wh) swin_softmax_rows_ref(p, b_ref.data() + wh * square, exp.data(), s_ref.data() + wh * square); },
                  [&] { for (int64_t wh = 0; wh < p.windows * heads; ++wh) swin_softmax_rows(p, b_ref.data() + wh * square, exp.data(), s_fast.data() + wh * square); },
                  [&] { return s_ref == s_fast; }});
  rows.push_back({"  stage: attn x V", p.windows * heads * square,
                  [&] { stage_loop([&](int64_t w, int64_t h, const uint8_t* q, int64_t at) { attention_context_ref(p.attention, s_ref.data() + at, q, h, c_ref.data() + w * n * dim); }); },
                  [&] { stage_loop([&](int64_t w, int64_t h, const uint8_t* q, int64_t at) { attention_context(p.attention, s_ref.data() + at, q, h, c_fast.data() + w * n * dim); }); },
                  [&] { return c_ref == c_fast; }});

  // The shifted window partition of norm1's codes, and patch merging's 2x2 gather of the 16-bit stream.
  const RowGatherParams partition = lower::swin_partition_map(56, 7, 3, 96);
  const std::vector<uint8_t> grid = random_codes(56 * 56 * 96 * 2, rng);
  std::vector<uint8_t> g_ref(grid.size()), g_fast(grid.size());
  rows.push_back({"window partition (3136 x 96, uint8)", 56 * 56 * 96,
                  [&] { gather_rows_ref(partition, grid.data(), g_ref.data()); },
                  [&] { kernels::gather_rows_avx512(partition, grid.data(), g_fast.data()); },
                  [&] { return std::equal(g_ref.begin(), g_ref.begin() + 56 * 56 * 96, g_fast.begin()); }});
  RowGatherParams merge = lower::swin_merge_map(56, 96);
  merge.code_bytes = 2;
  rows.push_back({"patch-merge gather (784 x 384, uint16)", 56 * 56 * 96 * 2,
                  [&] { gather_rows_ref(merge, grid.data(), g_ref.data()); },
                  [&] { kernels::gather_rows_avx512(merge, grid.data(), g_fast.data()); },
                  [&] { return g_ref == g_fast; }});

  // The average pool of the last stage.
  TokenMeanParams pool;
  pool.tokens = 49, pool.channels = 768, pool.in_zero_point = 128;
  pool.multiplier = mult(0.9 / 49), pool.out_zero_point = 128;
  const std::vector<uint8_t> feats = random_codes(49 * 768, rng);
  std::vector<uint8_t> m_ref(768), m_fast(768);
  rows.push_back({"average pool (49 x 768)", 49 * 768, [&] { token_mean_ref(pool, feats.data(), m_ref.data()); },
                  [&] { token_mean(pool, feats.data(), m_fast.data()); }, [&] { return m_ref == m_fast; }});

  std::printf("%-38s %10s %10s %10s %9s\n", "kernel (one core)", "elements", "ref ns/el", "avx512", "speed-up");
  for (const Row& r : rows) print(r, seconds);
  return 0;
}
