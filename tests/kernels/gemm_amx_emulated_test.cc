// The AMX kernels' code (blocking, M / N / K tails, packing, epilogue) against the reference kernels on CPUs
// without AMX, through the scalar tile emulation of amx_emulator.h. Where the CPU has AMX, gemm_test.cc runs the
// real instructions over the same kind of cases.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fqvit/kernels/gemm.h"
#include "kernels/amx_emulator.h"

namespace fqvit {
namespace {

struct Case {
  int64_t m, n, k;
};

void expect_emulated_amx_equals_reference(const Case& s, uint32_t seed, bool extremes) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), bias_dist(-(1 << 20), 1 << 20), exp(-20, -8);
  const int64_t lda = s.k + 3, ldc = s.n + 1;
  std::vector<uint8_t> a(static_cast<size_t>(s.m * lda));
  std::vector<int8_t> w(static_cast<size_t>(s.n * s.k));
  std::vector<int32_t> bias(static_cast<size_t>(s.n));
  std::vector<FixedMultiplier> multiplier(static_cast<size_t>(s.n));
  for (auto& v : a) v = static_cast<uint8_t>(extremes ? 255 : u8(rng));
  for (auto& v : w) v = static_cast<int8_t>(extremes ? -128 : s8(rng));
  for (auto& v : bias) v = bias_dist(rng);
  for (size_t j = 0; j < multiplier.size(); ++j) {
    multiplier[j] = {(1 << 30) + u8(rng) * 4000000, j % 5 == 0 ? -31 : (j % 5 == 1 ? 30 : exp(rng))};
  }
  // Odd seeds: per-channel rounding offsets (the lowering's bias fractions, f * mantissa, |f| <= 1/2).
  std::vector<int32_t> rounding;
  for (const FixedMultiplier& m : multiplier) {
    if (seed % 2 == 1) {
      rounding.push_back((u8(rng) - 128) * (m.mantissa_q31 / 256));
    }
  }
  const RequantParams rq{multiplier.data(), u8(rng), 0, 255, rounding.empty() ? nullptr : rounding.data()};
  std::vector<int32_t> want_c(static_cast<size_t>(s.m * ldc), -1), got_c(want_c);
  std::vector<uint8_t> want_u8(static_cast<size_t>(s.m * ldc), 9), got_u8(want_u8);
  gemm_u8s8s32_ref(s.m, s.n, s.k, a.data(), lda, w.data(), bias.data(), want_c.data(), ldc);
  gemm_u8s8_requant_u8_ref(s.m, s.n, s.k, a.data(), lda, w.data(), bias.data(), rq, want_u8.data(), ldc);
  testing::emulated_amx_gemm_u8s8s32(s.m, s.n, s.k, a.data(), lda, w.data(), bias.data(), got_c.data(), ldc);
  testing::emulated_amx_gemm_u8s8_requant_u8(s.m, s.n, s.k, a.data(), lda, w.data(), bias.data(), rq,
                                             got_u8.data(), ldc);
  for (size_t e = 0; e < want_c.size(); ++e) {
    const std::string where = "m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" +
                              std::to_string(s.k) + " element " + std::to_string(e);
    ASSERT_EQ(got_c[e], want_c[e]) << "int32 output, " << where;
    ASSERT_EQ(int{got_u8[e]}, int{want_u8[e]}) << "uint8 output, " << where;
  }
}

class EmulatedAmx : public ::testing::Test {
 protected:
  void SetUp() override {
    // The epilogue runs real AVX-512 instructions; only the tile instructions are emulated.
    if (!gemm_isa_supported(GemmIsa::kAvx512Vnni)) GTEST_SKIP() << "this CPU lacks AVX-512 (the AMX epilogue's)";
  }
};

// Around the AMX block (32 rows = 2 tiles, 32 channels = 2 B tiles, 64 k = one tile row).
TEST_F(EmulatedAmx, EdgeShapes) {
  uint32_t seed = 1;
  for (int64_t m : {1, 15, 16, 17, 31, 32, 33, 67}) {
    for (int64_t n : {1, 15, 16, 17, 31, 32, 33, 65}) {
      for (int64_t k : {1, 3, 4, 5, 63, 64, 65, 129}) {
        expect_emulated_amx_equals_reference({m, n, k}, seed++, false);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_F(EmulatedAmx, ModelShapesAndExtremes) {
  uint32_t seed = 1000;
  for (const Case& s : {Case{197, 576, 192}, Case{197, 192, 768}, Case{49, 96, 3072}, Case{3, 1000, 192}}) {
    expect_emulated_amx_equals_reference(s, seed++, false);
    if (HasFatalFailure()) return;
  }
  for (const Case& s : {Case{33, 33, 3072}, Case{17, 65, 65}}) {
    expect_emulated_amx_equals_reference(s, seed++, true);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace fqvit
