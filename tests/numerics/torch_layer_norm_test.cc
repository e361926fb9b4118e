// fqvit::torch_cpu::layer_norm against torch 1.13's own outputs (goldens from
// scripts/quant/make_torch_layer_norm_goldens.py, run on Debian's python3-torch, CPU capability AVX2): every float
// must have the same bits, in place and out of place, whatever the thread count.
#include "fqvit/numerics/torch_layer_norm.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fqvit/core/parallel.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int64_t kMaxDifferingFloats = 0;  // bit-exact: the whole point of this kernel
constexpr int kGoldenCases = 17;            // cases the generator writes

// Floats whose bit patterns differ (so -0 vs +0 and NaN payloads count), reporting the first few.
int64_t differing_floats(const float* got, const float* want, int64_t n, const std::string& what) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i])) continue;
    if (bad++ < 5) ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", torch " << want[i];
  }
  return bad;
}

TEST(TorchLayerNorm, MatchesTorchGoldensBitExactly) {
  const auto g = SafetensorsFile::open(testing::source_dir() + "/tests/numerics/data/torch_layer_norm_goldens.safetensors");
  int cases = 0;
  for (const auto& info : g.tensors()) {
    const std::string& key = info.name;
    if (key.size() < 2 || key.compare(key.size() - 2, 2, ".x") != 0) continue;
    const std::string name = key.substr(0, key.size() - 2);
    const Tensor x = g.load_float(name + ".x");
    const Tensor want = g.load_float(name + ".y", x.shape());
    const int64_t rows = x.dim(0), channels = x.dim(1);
    const Tensor gamma = g.load_float(name + ".gamma", {channels});
    const Tensor beta = g.load_float(name + ".beta", {channels});
    const float eps = g.load_float(name + ".eps", {1})[0];

    Tensor y = Tensor::uninitialized(x.shape());
    torch_cpu::layer_norm(x.data(), rows, channels, gamma.data(), beta.data(), eps, y.data());
    EXPECT_LE(differing_floats(y.data(), want.data(), want.numel(), name), kMaxDifferingFloats) << name;

    Tensor in_place = x;
    torch_cpu::layer_norm(in_place.data(), rows, channels, gamma.data(), beta.data(), eps, in_place.data());
    EXPECT_LE(differing_floats(in_place.data(), want.data(), want.numel(), name + " in place"), kMaxDifferingFloats)
        << name;
    ++cases;
  }
  EXPECT_EQ(cases, kGoldenCases);
}

TEST(TorchLayerNorm, SameBitsWithOneAndTwoThreads) {
  constexpr int64_t kRows = 8 * 197, kChannels = 192;  // a batch of ViT-Tiny tokens
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(kRows * kChannels), gamma(kChannels), beta(kChannels);
  for (auto& v : x) v = normal(rng);
  for (int64_t r = 0; r < kRows; ++r) x[r * kChannels + 137] = -590.0f + normal(rng);  // the massive channel
  for (auto& v : gamma) v = 1.0f + 0.25f * normal(rng);
  for (auto& v : beta) v = 0.1f * normal(rng);

  std::vector<float> one(x.size()), two(x.size());
  set_num_threads(1);
  torch_cpu::layer_norm(x.data(), kRows, kChannels, gamma.data(), beta.data(), 1e-6f, one.data());
  set_num_threads(2);
  torch_cpu::layer_norm(x.data(), kRows, kChannels, gamma.data(), beta.data(), 1e-6f, two.data());
  set_num_threads(0);
  EXPECT_LE(differing_floats(two.data(), one.data(), kRows * kChannels, "2 threads vs 1"), kMaxDifferingFloats);
}

}  // namespace
}  // namespace fqvit
