// The dispatching GEMMs (oneDNN's u8 x s8 -> s32 matmul, or our SIMD paths as they land) against the plain reference
// loops, bit for bit: edge shapes (odd M and N, K below / at / above 64, prime strides) and the accumulator's
// worst case (codes at their extremes, K the largest of our models and beyond).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "fqvit/kernels/gemm.h"

namespace fqvit {
namespace {

struct Shape3 {
  int64_t m, n, k;
};

void expect_same(int64_t m, int64_t n, int64_t k, const std::vector<uint8_t>& a, int64_t lda,
                 const std::vector<int8_t>& w, const std::vector<int32_t>& bias) {
  const PackedWeights packed(w.data(), n, k);
  std::vector<int32_t> want(static_cast<size_t>(m * n)), got(static_cast<size_t>(m * n));
  gemm_u8s8s32_ref(m, n, k, a.data(), lda, w.data(), bias.data(), want.data(), n);
  gemm_u8s8s32(packed, m, a.data(), lda, bias.data(), got.data(), n);
  ASSERT_EQ(want, got) << "m " << m << " n " << n << " k " << k << " lda " << lda << " path " << gemm_isa();
  std::vector<FixedMultiplier> mult(static_cast<size_t>(n), FixedMultiplier{1518500250, -9});
  const RequantParams rq{mult.data(), 17, 0, 255};
  std::vector<uint8_t> want8(static_cast<size_t>(m * n)), got8(static_cast<size_t>(m * n));
  gemm_u8s8_requant_u8_ref(m, n, k, a.data(), lda, w.data(), bias.data(), rq, want8.data(), n);
  gemm_u8s8_requant_u8(packed, m, a.data(), lda, bias.data(), rq, got8.data(), n);
  ASSERT_EQ(want8, got8) << "requantized, m " << m << " n " << n << " k " << k;
}

TEST(GemmDispatch, BitExactWithReferenceOnEdgeShapes) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), b(-(1 << 20), 1 << 20);
  for (const Shape3 s : {Shape3{1, 1, 1}, {1, 1000, 192}, {7, 13, 63}, {31, 17, 64}, {33, 65, 65}, {197, 576, 192},
                         {65, 192, 64}, {197, 192, 768}, {3, 5, 3072}}) {
    const int64_t lda = s.k + 3;  // a prime-ish stride past the row
    std::vector<uint8_t> a(static_cast<size_t>(s.m * lda));
    std::vector<int8_t> w(static_cast<size_t>(s.n * s.k));
    std::vector<int32_t> bias(static_cast<size_t>(s.n));
    for (auto& v : a) v = static_cast<uint8_t>(u8(rng));
    for (auto& v : w) v = static_cast<int8_t>(s8(rng));
    for (auto& v : bias) v = b(rng);
    expect_same(s.m, s.n, s.k, a, lda, w, bias);
  }
}

// |acc| <= |bias| + 255 * 128 * K: all activations 255 against all weights -128 (and +127), K = 3072 (ViT-B's fc2,
// the largest K of the supported models) and K = 16384, with the bias at 2^20.
TEST(GemmDispatch, AccumulatorWorstCaseStaysExact) {
  for (const int64_t k : {int64_t{768}, int64_t{3072}, int64_t{16384}}) {
    for (const int8_t wv : {int8_t{-128}, int8_t{127}}) {
      const int64_t m = 3, n = 5;
      std::vector<uint8_t> a(static_cast<size_t>(m * k), 255);
      std::vector<int8_t> w(static_cast<size_t>(n * k), wv);
      std::vector<int32_t> bias(static_cast<size_t>(n), wv < 0 ? -(1 << 20) : (1 << 20));
      expect_same(m, n, k, a, k, w, bias);
      std::vector<int32_t> c(static_cast<size_t>(m * n));
      gemm_u8s8s32(PackedWeights(w.data(), n, k), m, a.data(), k, bias.data(), c.data(), n);
      EXPECT_EQ(int64_t{c[0]}, 255 * int64_t{wv} * k + bias[0]) << "k " << k;  // closed form
    }
  }
}

}  // namespace
}  // namespace fqvit
