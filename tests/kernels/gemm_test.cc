// Every GEMM path this CPU has (ref over packed weights, AVX-512 VNNI, AMX), and the requantization pass, against
// the plain reference kernels
// (src/kernels/ref/gemm_ref.cc), bit for bit: edge shapes around every tile and block size, the ViT-Tiny / DeiT-S
// / Swin-T shapes, data at the code extremes, outlier channels, multipliers at the ends of the exponent range,
// zero multipliers, many seeds, and rows split across two threads. The reference kernels are the plain-loop
// definition of the contract; the requantization rule itself is checked against closed-form values in
// requantize_closed_form_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ostream>
#include <climits>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/kernels/gemm.h"

namespace fqvit {

// gtest prints the path by name in test listings and failures.
void PrintTo(GemmIsa isa, std::ostream* os) { *os << gemm_isa_name(isa); }

namespace {

constexpr int32_t kMaxAbsBias = 1 << 20;  // gemm.h's precondition on the folded bias

struct Problem {
  int64_t m, n, k;
  int64_t lda, ldc;  // row strides (>= k, >= n): padded strides catch kernels that assume dense rows
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<FixedMultiplier> multiplier;
  std::vector<int32_t> rounding;  // odd seeds: per-channel rounding offsets (a bias fraction), else empty
  RequantParams rq;
};

enum class Data { kRandom, kExtremeMax, kExtremeMin, kZeroA, kOutlierChannels };

// A normalized multiplier with a random exponent in [lo_exp, hi_exp] (|mantissa| in [2^30, 2^31)).
FixedMultiplier random_multiplier(std::mt19937& rng, int lo_exp, int hi_exp) {
  std::uniform_int_distribution<int32_t> mant(1 << 30, INT32_MAX);
  std::uniform_int_distribution<int> exp(lo_exp, hi_exp);
  std::bernoulli_distribution negative(0.1);
  const int32_t m = mant(rng);
  return {negative(rng) ? -m : m, exp(rng)};
}

Problem make_problem(int64_t m, int64_t n, int64_t k, Data data, uint32_t seed) {
  std::mt19937 rng(seed);
  Problem p{m, n, k, k + (seed % 3 == 0 ? 0 : 7), n + (seed % 2 == 0 ? 0 : 5), {}, {}, {}, {}, {}, {}};
  p.a.resize(static_cast<size_t>(m * p.lda));
  p.w.resize(static_cast<size_t>(n * k));
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), small(-3, 3);
  std::bernoulli_distribution outlier(0.1);
  for (auto& v : p.a) v = static_cast<uint8_t>(data == Data::kExtremeMax || data == Data::kExtremeMin ? 255
                                               : data == Data::kZeroA                               ? 0
                                                                                                    : u8(rng));
  for (int64_t j = 0; j < n; ++j) {
    const bool big = data != Data::kOutlierChannels || outlier(rng);  // outliers: few wide channels, many narrow
    for (int64_t q = 0; q < k; ++q) {
      int8_t v = static_cast<int8_t>(big ? s8(rng) : small(rng));
      if (data == Data::kExtremeMax) v = 127;
      if (data == Data::kExtremeMin) v = -128;
      p.w[static_cast<size_t>(j * k + q)] = v;
    }
  }
  std::uniform_int_distribution<int32_t> bias(-kMaxAbsBias, kMaxAbsBias);
  p.bias.resize(static_cast<size_t>(n));
  for (auto& b : p.bias) b = bias(rng);
  // Multipliers sized from the channel's largest |accumulator| so that codes spread over about +-100 around the
  // zero point (the rounding is exercised, not only the clamps), with every 7th channel at an extreme of the
  // allowed exponent range and every 11th a zero multiplier.
  std::vector<int32_t> acc(static_cast<size_t>(m * n));
  gemm_u8s8s32_ref(m, n, k, p.a.data(), p.lda, p.w.data(), p.bias.data(), acc.data(), n);
  p.multiplier.resize(static_cast<size_t>(n));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  for (int64_t j = 0; j < n; ++j) {
    int64_t absmax = 1;
    for (int64_t i = 0; i < m; ++i) absmax = std::max<int64_t>(absmax, std::abs(int64_t{acc[i * n + j]}));
    int exponent = 0;
    const double fraction = std::frexp(100.0 / static_cast<double>(absmax) * jitter(rng), &exponent);  // [0.5, 1)
    FixedMultiplier fm{static_cast<int32_t>(std::ldexp(fraction, 31)), exponent};
    if (fm.exponent < -31) fm = {0, 0};
    if (j % 7 == 3) fm = random_multiplier(rng, -31, -31);
    if (j % 7 == 5) fm = random_multiplier(rng, 30, 30);
    if (j % 11 == 6) fm = {0, 0};
    p.multiplier[static_cast<size_t>(j)] = fm;
  }
  if (seed % 2 == 1) {  // f * mantissa, f in [-1/2, 1/2]: the lowering's bias fractions
    std::uniform_real_distribution<double> fraction(-0.5, 0.5);
    for (const FixedMultiplier& fm : p.multiplier) {
      p.rounding.push_back(static_cast<int32_t>(std::llround(fraction(rng) * static_cast<double>(fm.mantissa_q31))));
    }
  }
  std::uniform_int_distribution<int32_t> zp(0, 255);
  p.rq = {p.multiplier.data(), zp(rng), 0, 255, p.rounding.empty() ? nullptr : p.rounding.data()};
  if (seed % 5 == 1) p.rq.lo = 3, p.rq.hi = 250;  // a narrower code range than uint8
  if (seed % 13 == 4) p.rq.zero_point = seed % 2 ? INT32_MIN + 7 : INT32_MAX - 7;  // lo - zp leaves int32
  if (seed % 13 == 9) p.rq.zero_point = -70000;
  return p;
}

std::string describe(const Problem& p, int64_t i, int64_t j) {
  return "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) + " k=" + std::to_string(p.k) +
         " lda=" + std::to_string(p.lda) + " ldc=" + std::to_string(p.ldc) + " at [" + std::to_string(i) + "][" +
         std::to_string(j) + "] bias=" + std::to_string(p.bias[static_cast<size_t>(j)]) +
         " multiplier={" + std::to_string(p.multiplier[static_cast<size_t>(j)].mantissa_q31) + ", " +
         std::to_string(p.multiplier[static_cast<size_t>(j)].exponent) + "} zp=" + std::to_string(p.rq.zero_point);
}

// Runs both GEMM forms of one path on p (rows split into `parts` slices, one thread each) and compares every
// element with the reference kernels.
void expect_same_as_reference(const Problem& p, bool use_bias, int parts, bool check_inside = false) {
  const int32_t* bias = use_bias ? p.bias.data() : nullptr;
  std::vector<int32_t> want_c(static_cast<size_t>(p.m * p.ldc), -7), got_c(want_c);
  std::vector<uint8_t> want_u8(static_cast<size_t>(p.m * p.ldc), 77), got_u8(want_u8);
  gemm_u8s8s32_ref(p.m, p.n, p.k, p.a.data(), p.lda, p.w.data(), bias, want_c.data(), p.ldc);
  gemm_u8s8_requant_u8_ref(p.m, p.n, p.k, p.a.data(), p.lda, p.w.data(), bias, p.rq, want_u8.data(), p.ldc);

  const PackedWeights packed(p.w.data(), p.n, p.k);
  std::vector<std::thread> threads;
  for (int t = 0; t < parts; ++t) {
    const int64_t r0 = p.m * t / parts, r1 = p.m * (t + 1) / parts;
    auto run = [&, r0, r1] {
      gemm_u8s8s32(packed, r1 - r0, p.a.data() + r0 * p.lda, p.lda, bias, got_c.data() + r0 * p.ldc, p.ldc);
      gemm_u8s8_requant_u8(packed, r1 - r0, p.a.data() + r0 * p.lda, p.lda, bias, p.rq,
                           got_u8.data() + r0 * p.ldc, p.ldc);
    };
    if (parts == 1) run(); else threads.emplace_back(run);
  }
  for (auto& th : threads) th.join();

  // The epilogue as a pass of its own (requantize_u8 over int32 sums made without the bias) gives the same codes.
  std::vector<int32_t> unbiased(want_c.size());
  gemm_u8s8s32_ref(p.m, p.n, p.k, p.a.data(), p.lda, p.w.data(), nullptr, unbiased.data(), p.ldc);
  std::vector<uint8_t> pass_u8(want_u8.size(), 77);
  requantize_u8(p.m, p.n, unbiased.data(), p.ldc, bias, p.rq, pass_u8.data(), p.ldc);

  // The data must exercise the rounding, not only the clamps: a fair share of codes strictly inside (lo, hi).
  int64_t inside = 0;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      const int code = want_u8[static_cast<size_t>(i * p.ldc + j)];
      inside += code > p.rq.lo && code < p.rq.hi;
    }
  }
  // (a handful of codes may all sit on one side of the zero point; a zero point outside [0, 255] clamps them all)
  if (check_inside && p.m * p.n >= 256 && p.rq.zero_point >= 0 && p.rq.zero_point <= 255) {
    EXPECT_GE(inside * 4, p.m * p.n) << "test data mostly clamped: " << describe(p, 0, 0);
  }

  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.ldc; ++j) {  // the padding columns must stay untouched too
      const auto e = static_cast<size_t>(i * p.ldc + j);
      ASSERT_EQ(got_c[e], want_c[e]) << "int32 output, " << describe(p, i, std::min(j, p.n - 1));
      ASSERT_EQ(int{got_u8[e]}, int{want_u8[e]}) << "uint8 output, " << describe(p, i, std::min(j, p.n - 1));
      ASSERT_EQ(int{pass_u8[e]}, int{want_u8[e]}) << "requantize_u8 pass, " << describe(p, i, std::min(j, p.n - 1));
    }
  }
}

class GemmPathTest : public ::testing::TestWithParam<GemmIsa> {
 protected:
  void SetUp() override {
    if (!gemm_isa_supported(GetParam())) {
      GTEST_SKIP() << "this CPU (or its OS) lacks " << gemm_isa_name(GetParam())
                   << "; the path is compiled but cannot run here";
    }
    saved_ = gemm_isa();
    force_gemm_isa(GetParam());
  }
  void TearDown() override {
    for (GemmIsa isa : {GemmIsa::kRef, GemmIsa::kAvx512Vnni, GemmIsa::kAmx}) {
      if (saved_ == gemm_isa_name(isa)) force_gemm_isa(isa);
    }
  }
  std::string saved_;
};

TEST_P(GemmPathTest, PacksForTheForcedPath) {
  const std::vector<int8_t> w(12, 1);
  EXPECT_EQ(packed_isa(PackedWeights(w.data(), 3, 4)), GetParam());
  EXPECT_EQ(gemm_isa(), gemm_isa_name(GetParam()));
}

// M, N, K of 1, odd, prime, and just below / at / above the VNNI micro-tile (6 rows, 16 / 64 channels, 4 k), the
// AMX block (32 rows, 32 channels, 64 k) and the VNNI row chunk (96 rows).
TEST_P(GemmPathTest, EdgeShapes) {
  const int64_t ms[] = {1, 5, 6, 7, 13, 16, 17, 31, 32, 33, 95, 96, 97};
  const int64_t ns[] = {1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97};
  const int64_t ks[] = {1, 2, 3, 4, 5, 7, 63, 64, 65, 127, 128, 131};
  uint32_t seed = 1;
  for (int64_t m : ms) {
    for (int64_t n : ns) {
      for (int64_t k : ks) {
        if ((m * 7 + n * 3 + k) % 3 != 0 && m > 7 && n > 17) continue;  // a third of the large ones is enough
        expect_same_as_reference(make_problem(m, n, k, Data::kRandom, seed), seed % 4 != 0, 1);
        if (HasFatalFailure()) return;
        ++seed;
      }
    }
  }
}

// The GEMMs of ViT-Tiny (dim 192), DeiT-S (384) and Swin-T (96..768, 49-token windows; K up to 3072), the
// classifier head (1000 classes), at the row counts of batch 1 (197 tokens; Swin: stage-4 tokens 49).
TEST_P(GemmPathTest, ModelShapes) {
  struct Shape { int64_t m, n, k; };
  const Shape shapes[] = {
      {197, 576, 192}, {197, 192, 192}, {197, 768, 192}, {197, 192, 768}, {1, 1000, 192},     // ViT-Tiny
      {197, 1152, 384}, {197, 384, 384}, {197, 1536, 384}, {197, 384, 1536}, {1, 1000, 384},  // DeiT-S
      {3136, 96, 48}, {49, 288, 96}, {98, 384, 384}, {49, 768, 3072}, {49, 3072, 768}, {2, 1000, 768},  // Swin-T
  };
  uint32_t seed = 100;
  for (const Shape& s : shapes) {
    expect_same_as_reference(make_problem(s.m, s.n, s.k, Data::kRandom, seed++), true, 1, true);
    if (HasFatalFailure()) return;
  }
}

// Every code at its extreme: sums at the bound (+-255 * 128 * K), K up to 3072 and at kMaxGemmK (gemm.h's
// limit, where |sum| reaches 2^30), and the zero A (bias only).
TEST_P(GemmPathTest, ExtremeCodes) {
  uint32_t seed = 200;
  for (Data data : {Data::kExtremeMax, Data::kExtremeMin, Data::kZeroA, Data::kOutlierChannels}) {
    for (int64_t k : {1, 3, 64, 65, 768, 3072}) {
      expect_same_as_reference(make_problem(37, 67, k, data, seed++), true, 1);
      if (HasFatalFailure()) return;
    }
    expect_same_as_reference(make_problem(7, 19, kMaxGemmK, data, seed++), true, 1);
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemmPathTest, RandomShapesManySeeds) {
  for (uint32_t seed = 300; seed < 360; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> mn(1, 140), kd(1, 400);
    const int64_t m = mn(rng), n = mn(rng), k = kd(rng);
    expect_same_as_reference(make_problem(m, n, k, static_cast<Data>(seed % 5), seed), seed % 3 != 0, 1);
    if (HasFatalFailure()) return;
  }
}

// The executor splits rows across threads: two threads on two row slices give the single-call bits (and each
// thread asks for its own AMX permission).
TEST_P(GemmPathTest, RowsSplitAcrossTwoThreads) {
  uint32_t seed = 400;
  for (int64_t m : {2, 33, 197, 394}) {
    expect_same_as_reference(make_problem(m, 192, 192, Data::kRandom, seed++), true, 2);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, GemmPathTest,
                         ::testing::Values(GemmIsa::kRef, GemmIsa::kAvx512Vnni, GemmIsa::kAmx),
                         [](const auto& path) { return std::string(gemm_isa_name(path.param)); });

TEST(GemmDispatch, ForcingAPathTheCpuLacksFailsWithItsName) {
  for (GemmIsa isa : {GemmIsa::kAvx512Vnni, GemmIsa::kAmx}) {
    if (gemm_isa_supported(isa)) continue;
    try {
      force_gemm_isa(isa);
      FAIL() << "forcing " << gemm_isa_name(isa) << " on a CPU without it did not fail";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(gemm_isa_name(isa)), std::string::npos) << e.what();
    }
  }
}

TEST(GemmDispatch, DefaultIsTheFastestSupportedPathUnlessForced) {
  if (std::getenv("FQVIT_ISA") != nullptr) GTEST_SKIP() << "FQVIT_ISA is set";
  const char* want = gemm_isa_supported(GemmIsa::kAmx)          ? "amx"
                     : gemm_isa_supported(GemmIsa::kAvx512Vnni) ? "avx512_vnni"
                                                                : "ref";
  EXPECT_EQ(gemm_isa(), want);
}

}  // namespace
}  // namespace fqvit
