// The torch kernel set against torch 1.13 itself: scripts/quant/make_torch_vec_goldens.py ran F.gelu, softmax,
// F.linear, the attention products and the patch-embedding conv in Debian's python3-torch on this machine (the ctest
// fixture torch_kernel_goldens), so whatever kernels OpenBLAS and oneDNN pick for this CPU, every float must be
// identical (that is the set's whole purpose), and with 1 or 2 threads alike.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "fqvit/core/parallel.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/numerics/float_kernels.h"
#include "fqvit/numerics/torch_vec_ops.h"
#include "platform_guard.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int64_t kAllowedMismatches = 0;

class TorchKernelsTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (!torch_cpu::torch_cpu_supported()) GTEST_SKIP() << "no AVX2 + FMA: torch numerics unavailable here";
    const std::string path = testing::binary_dir() + "/goldens/torch_vec_goldens.safetensors";
    if (!std::filesystem::is_regular_file(path)) {
      GTEST_SKIP() << path << " not found (the torch_kernel_goldens fixture makes it; needs python3-torch): skipped";
    }
    goldens.emplace(SafetensorsFile::open(path));
    set_num_threads(GetParam());
  }
  void TearDown() override { set_num_threads(0); }
  std::optional<SafetensorsFile> goldens;
  Tensor load(const std::string& name) const { return goldens->load_float(name); }
  // OpenBLAS / oneDNN made these goldens' bits: the fixture makes them here, so this guards only against a stale
  // build tree moved to another machine.
  std::string golden_platform() const { return goldens->metadata().at("platform"); }
};

int64_t mismatches(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.numel(), want.numel());
  int64_t bad = 0;
  for (int64_t i = 0; i < got.numel() && i < want.numel(); ++i) {
    bad += std::memcmp(got.data() + i, want.data() + i, sizeof(float)) != 0;
  }
  return bad;
}

TEST_P(TorchKernelsTest, Gelu) {
  FQVIT_REQUIRE_PLATFORM(golden_platform());
  const FloatKernels& torch = float_kernels(Numerics::kTorch);
  for (const std::string name : {"gelu_big", "gelu_small"}) {
    Tensor x = load(name + ".x");
    torch.gelu(x.data(), x.numel());
    EXPECT_LE(mismatches(x, load(name + ".y")), kAllowedMismatches) << name;
  }
}

TEST_P(TorchKernelsTest, Softmax) {
  const FloatKernels& torch = float_kernels(Numerics::kTorch);
  for (const std::string name : {"softmax_197", "softmax_64", "softmax_5"}) {
    Tensor x = load(name + ".x");
    torch.softmax_rows(x.data(), x.numel() / x.dim(-1), x.dim(-1));
    EXPECT_LE(mismatches(x, load(name + ".y")), kAllowedMismatches) << name;
  }
}

TEST_P(TorchKernelsTest, LinearAddsTheBiasFirst) {
  FQVIT_REQUIRE_PLATFORM(golden_platform());
  const FloatKernels& torch = float_kernels(Numerics::kTorch);
  for (const std::string name : {"linear_192", "linear_768"}) {
    const Tensor x = load(name + ".x"), w = load(name + ".w"), b = load(name + ".b");
    const int64_t in = w.dim(1), rows = x.numel() / in;
    auto y = Tensor::uninitialized({rows, w.dim(0)});
    torch.linear(x.data(), rows, in, in, w, &b, y.data());
    EXPECT_LE(mismatches(y, load(name + ".y")), kAllowedMismatches) << name;
  }
}

TEST_P(TorchKernelsTest, AttentionProducts) {
  FQVIT_REQUIRE_PLATFORM(golden_platform());
  const FloatKernels& torch = float_kernels(Numerics::kTorch);
  const Tensor qkv = load("attn.qkv");
  const int64_t tokens = qkv.dim(1), d = qkv.dim(2) / 3, heads = 3, dh = d / heads, ld = 3 * d;
  auto scores = Tensor::uninitialized({heads, tokens, tokens});
  torch.batched_gemm(1, heads, tokens, tokens, dh, 0.125f, /*b_transposed=*/true, [&](int64_t h) {
    return GemmOperands{qkv.data() + h * dh, ld, qkv.data() + d + h * dh, ld, scores.data() + h * tokens * tokens,
                        tokens};
  });
  EXPECT_LE(mismatches(scores, load("attn.scores")), kAllowedMismatches);
  torch.softmax_rows(scores.data(), heads * tokens, tokens);
  auto context = Tensor::uninitialized({tokens, d});
  torch.batched_gemm(1, heads, tokens, dh, tokens, 1.0f, /*b_transposed=*/false, [&](int64_t h) {
    return GemmOperands{scores.data() + h * tokens * tokens, tokens, qkv.data() + 2 * d + h * dh, ld,
                        context.data() + h * dh, d};
  });
  EXPECT_LE(mismatches(context, load("attn.context")), kAllowedMismatches);
}

// Two heads (torch copies k^T before its per-window products) and one head (the reshape is a view: BLAS sees k^T
// transposed, which picks another small-matrix kernel on SkylakeX).
TEST_P(TorchKernelsTest, SwinWindowProducts) {
  FQVIT_REQUIRE_PLATFORM(golden_platform());
  const FloatKernels& torch = float_kernels(Numerics::kTorch);
  for (const auto& [name, heads] : {std::pair<std::string, int64_t>{"swin_attn", 2}, {"swin_attn_h1", 1}}) {
    Tensor qkv = load(name + ".qkv");
    const int64_t windows = qkv.dim(0), tokens = qkv.dim(1), d = qkv.dim(2) / 3, dh = d / heads, ld = 3 * d;
    const auto scale = static_cast<float>(std::pow(static_cast<double>(dh), -0.5));
    for (int64_t r = 0; r < windows * tokens; ++r) {
      for (int64_t j = 0; j < d; ++j) qkv[r * ld + j] *= scale;
    }
    auto scores = Tensor::uninitialized({windows, heads, tokens, tokens});
    torch.batched_gemm(windows, heads, tokens, tokens, dh, 1.0f, /*b_transposed=*/true, [&](int64_t wh) {
      const float* q = qkv.data() + (wh / heads) * tokens * ld + (wh % heads) * dh;
      return GemmOperands{q, ld, q + d, ld, scores.data() + wh * tokens * tokens, tokens};
    });
    EXPECT_LE(mismatches(scores, load(name + ".scores")), kAllowedMismatches) << name;
    torch.softmax_rows(scores.data(), windows * heads * tokens, tokens);
    auto context = Tensor::uninitialized({windows, tokens, d});
    torch.batched_gemm(windows, heads, tokens, dh, tokens, 1.0f, /*b_transposed=*/false, [&](int64_t wh) {
      const int64_t wi = wh / heads, hi = wh % heads;
      return GemmOperands{scores.data() + wh * tokens * tokens, tokens,
                          qkv.data() + wi * tokens * ld + 2 * d + hi * dh, ld,
                          context.data() + wi * tokens * d + hi * dh, d};
    });
    EXPECT_LE(mismatches(context, load(name + ".context")), kAllowedMismatches) << name;
  }
}

TEST_P(TorchKernelsTest, PatchEmbeddingConv) {
  FQVIT_REQUIRE_PLATFORM(golden_platform());
  const FloatKernels& torch = float_kernels(Numerics::kTorch);
  const Tensor y = torch.patch_embed(load("conv.x"), load("conv.w"), load("conv.b"));
  EXPECT_LE(mismatches(y, load("conv.y")), kAllowedMismatches);
}

// The fast set is not bit-exact, which is why the torch set exists; it must still be the same function.
TEST_P(TorchKernelsTest, FastSetAgreesToFloatTolerance) {
  constexpr float kTolerance = 2e-5f;
  Tensor x = load("gelu_big.x");
  float_kernels(Numerics::kFast).gelu(x.data(), x.numel());
  const Tensor want = load("gelu_big.y");
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(x[i], want[i], kTolerance * (1 + std::fabs(want[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(Threads, TorchKernelsTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace fqvit
