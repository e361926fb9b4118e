// torch 1.13's float LayerNorm as Debian's libtorch_cpu.so.1.13.0 actually runs it. Read from its machine code
// (objdump of the AVX2 LayerNormKernel stub and what it calls), not only from the C++ source, because the compiler
// decided two things the source does not say:
//  * at::native::utils::RowwiseMoments<float> (moments_utils.h) is an inline template outside the CPU_CAPABILITY
//    namespace, so the linker kept a single copy for every dispatch level, and the copy it kept is the DEFAULT
//    build's: SSE2 code on the generic 8-lane Vectorized<float>, separate multiplies and adds, no FMA.
//  * the AVX2 map (x * rstd + bias) * gamma + beta was contracted by GCC (-ffp-contract=fast) into two FMAs.
// So this file must not contract a * b + c anywhere except where it writes an FMA itself.
#pragma GCC optimize("fp-contract=off")

#include "fqvit/model/torch_layer_norm.h"

#include <immintrin.h>

#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <utility>

namespace fqvit::torch_cpu {
namespace {

constexpr int64_t kLanes = 8;       // Vectorized<float>::size() in torch's generic (DEFAULT) build: 32 bytes
constexpr int64_t kChunk = 16;      // utils::kChunkSize: vectors per Welford chunk
constexpr int64_t kMaxDepth = 64;   // the deepest cascade RowwiseMoments instantiates

using Lanes = std::array<float, kLanes>;

// utils::CeilLog2: 1 for x <= 2 (so the cascade always has a level 0), else ceil(log2 x).
int64_t ceil_log2(int64_t x) { return x <= 2 ? 1 : std::bit_width(static_cast<uint64_t>(x - 1)); }

// utils::AddMoments: merges (m0_add, m1_add, m2_add) into (m0, m1, m2); m2 is a sum of squared deviations.
void add_moments(int64_t m0_add, float m1_add, float m2_add, int64_t& m0, float& m1, float& m2) {
  const int64_t n = m0 + m0_add;
  const float c = n == 0 ? 0.0f : static_cast<float>(m0_add) / static_cast<float>(n);
  const float delta = m1_add - m1;
  m1 = m1 + c * delta;
  m2 = m2 + (m2_add + delta * delta * c * static_cast<float>(m0));
  m0 = n;
}

// utils::AddMomentsVec: the same per lane, with one count shared by all lanes.
void add_moments_vec(int64_t m0_add, const Lanes& m1_add, const Lanes& m2_add, int64_t& m0, Lanes& m1, Lanes& m2) {
  const int64_t n = m0 + m0_add;
  const float c = n == 0 ? 0.0f : static_cast<float>(m0_add) / static_cast<float>(n);
  const float m0_f = static_cast<float>(m0);
  for (int64_t l = 0; l < kLanes; ++l) {
    const float delta = m1_add[l] - m1[l];
    m1[l] = m1[l] + c * delta;
    m2[l] = m2[l] + (m2_add[l] + delta * delta * c * m0_f);
  }
  m0 = n;
}

// utils::RowwiseMomentsImpl (ddof 0): Welford per lane over chunks of 16 vectors, chunks merged through a binary
// cascade, then the scalar tail, then the 8 lanes folded into the tail's moments. Returns (mean, biased variance).
std::pair<float, float> rowwise_moments(const float* x, int64_t channels) {
  const int64_t n = channels / kLanes;  // full vectors
  const int64_t m = (n + kChunk - 1) / kChunk;
  const int64_t depth = ceil_log2(m);
  assert(depth <= kMaxDepth);

  static const std::array<float, kChunk> kInvCount = [] {
    std::array<float, kChunk> inv{};
    for (int64_t i = 0; i < kChunk; ++i) inv[i] = 1.0f / static_cast<float>(i + 1);
    return inv;
  }();

  std::array<int64_t, kMaxDepth> m0_stk;
  std::array<Lanes, kMaxDepth> m1_stk, m2_stk;
  for (int64_t d = 0; d < depth; ++d) {
    m0_stk[d] = 0;
    m1_stk[d].fill(0.0f);
    m2_stk[d].fill(0.0f);
  }

  for (int64_t i = 0; i < m; ++i) {
    const float* chunk = x + i * kChunk * kLanes;
    const int64_t count = std::min(kChunk, n - i * kChunk);
    Lanes m1{}, m2{};
    for (int64_t j = 0; j < count; ++j) {
      const float* v = chunk + j * kLanes;
      for (int64_t l = 0; l < kLanes; ++l) {
        const float delta = v[l] - m1[l];
        m1[l] = m1[l] + delta * kInvCount[j];
        m2[l] = m2[l] + delta * (v[l] - m1[l]);
      }
    }
    add_moments_vec(count, m1, m2, m0_stk[0], m1_stk[0], m2_stk[0]);
    int64_t mask = i + 1;
    for (int64_t d = 1; d < depth && (mask & 1) == 0; ++d) {
      add_moments_vec(m0_stk[d - 1], m1_stk[d - 1], m2_stk[d - 1], m0_stk[d], m1_stk[d], m2_stk[d]);
      m0_stk[d - 1] = 0;
      m1_stk[d - 1].fill(0.0f);
      m2_stk[d - 1].fill(0.0f);
      mask >>= 1;
    }
  }
  for (int64_t d = 1; d < depth; ++d) {
    add_moments_vec(m0_stk[d], m1_stk[d], m2_stk[d], m0_stk[0], m1_stk[0], m2_stk[0]);
  }

  int64_t m0 = 0;
  float m1 = 0.0f, m2 = 0.0f;
  for (int64_t i = n * kLanes; i < channels; ++i) {
    const float delta = x[i] - m1;
    ++m0;
    m1 = m1 + delta / static_cast<float>(m0);
    m2 = m2 + delta * (x[i] - m1);
  }
  for (int64_t l = 0; l < kLanes; ++l) add_moments(n, m1_stk[0][l], m2_stk[0][l], m0, m1, m2);
  return {m1, m2 / static_cast<float>(channels)};
}

// y = fma(fma(x, scale, bias), gamma, beta): the AVX2 kernel's map3 after GCC's contraction.
__attribute__((target("avx2,fma"))) void affine_avx2(const float* x, int64_t channels, float scale, float bias,
                                                      const float* gamma, const float* beta, float* y) {
  const __m256 scale_v = _mm256_set1_ps(scale), bias_v = _mm256_set1_ps(bias);
  int64_t j = 0;
  for (; j + kLanes <= channels; j += kLanes) {
    const __m256 t = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), scale_v, bias_v);
    _mm256_storeu_ps(y + j, _mm256_fmadd_ps(t, _mm256_loadu_ps(gamma + j), _mm256_loadu_ps(beta + j)));
  }
  for (; j < channels; ++j) {  // torch runs the tail through a zero-padded vector: same per-element result
    const __m128 t = _mm_fmadd_ss(_mm_set_ss(x[j]), _mm_set_ss(scale), _mm_set_ss(bias));
    y[j] = _mm_cvtss_f32(_mm_fmadd_ss(t, _mm_set_ss(gamma[j]), _mm_set_ss(beta[j])));
  }
}

// The same on a CPU without AVX2/FMA: std::fma rounds once, exactly as the instruction does.
void affine_portable(const float* x, int64_t channels, float scale, float bias, const float* gamma,
                     const float* beta, float* y) {
  for (int64_t j = 0; j < channels; ++j) y[j] = std::fma(std::fma(x[j], scale, bias), gamma[j], beta[j]);
}

}  // namespace

void layer_norm(const float* x, int64_t rows, int64_t channels, const float* gamma, const float* beta, float eps,
                float* y) {
  assert(channels > 0);
  static const bool kHasFma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * channels;
    float* out = y + r * channels;
    const auto [mean, var] = rowwise_moments(in, channels);
    const float rstd = 1.0f / std::sqrt(var + eps);
    const float bias = -rstd * mean;
    if (kHasFma) {
      affine_avx2(in, channels, rstd, bias, gamma, beta, out);
    } else {
      affine_portable(in, channels, rstd, bias, gamma, beta, out);
    }
  }
}

}  // namespace fqvit::torch_cpu
