// torch 1.13's float LayerNorm as Debian's libtorch_cpu.so.1.13.0 actually runs it. Read from its machine code
// (objdump of the AVX2 LayerNormKernel stub and what it calls), not only from the C++ source, because the compiler
// decided two things the source does not say:
//  * at::native::utils::RowwiseMoments<float> (moments_utils.h) is an inline template outside the CPU_CAPABILITY
//    namespace, so the linker kept a single copy for every dispatch level, and the copy it kept is the DEFAULT
//    build's: SSE2 code on the generic 8-lane Vectorized<float>, separate multiplies and adds, no FMA.
//  * the AVX2 map (x * rstd + bias) * gamma + beta was contracted by GCC (-ffp-contract=fast) into two FMAs.
// In between, as the source says: rstd = 1 / sqrtf(var + eps) and bias = -rstd * mean, in float.
// So this file must not contract a * b + c anywhere except where it writes an FMA itself (built with
// -ffp-contract=off, CMakeLists.txt).

#include "fqvit/numerics/torch_layer_norm.h"

#include <immintrin.h>

#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <utility>

namespace fqvit::torch_cpu {
namespace {

constexpr int64_t kLanes = 8;       // Vectorized<float>::size() in torch's generic (DEFAULT) build: 32 bytes
constexpr int64_t kChunk = 16;      // utils::kChunkSize: vectors per Welford chunk
constexpr int kRowsAtOnce = 8;      // rows whose moments run side by side (see rowwise_moments)
constexpr int64_t kMaxDepth = 32;   // cascade levels: 2^32 chunks of 128 floats (torch allows 64; rows never need it)

// One torch Vectorized<float>: GCC's generic vector, element-wise IEEE ops (ymm with AVX, xmm pairs without).
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));

// Unaligned load (an out-parameter: returning a 32-byte vector by value warns -Wpsabi on non-AVX builds).
void load_lanes(const float* p, Lanes& v) { std::memcpy(&v, p, sizeof(v)); }

// utils::CeilLog2: 1 for x <= 2 (so the cascade always has a level 0), else ceil(log2 x).
int64_t ceil_log2(int64_t x) { return x <= 2 ? 1 : std::bit_width(static_cast<uint64_t>(x - 1)); }

// utils::AddMoments: merges (m0_add, m1_add, m2_add) into (m0, m1, m2); m2 is a sum of squared deviations. The
// counts are the caller's (they are the same for every row of a width), which then sets m0 += m0_add.
void add_moments(int64_t m0_add, float m1_add, float m2_add, int64_t m0, float& m1, float& m2) {
  const int64_t n = m0 + m0_add;
  const float c = n == 0 ? 0.0f : static_cast<float>(m0_add) / static_cast<float>(n);
  const float delta = m1_add - m1;
  m1 = m1 + c * delta;
  m2 = m2 + (m2_add + delta * delta * c * static_cast<float>(m0));
}

// utils::AddMomentsVec: the same per lane, with one count shared by all lanes.
void add_moments_vec(int64_t m0_add, const Lanes& m1_add, const Lanes& m2_add, int64_t m0, Lanes& m1, Lanes& m2) {
  const int64_t n = m0 + m0_add;
  const float c = n == 0 ? 0.0f : static_cast<float>(m0_add) / static_cast<float>(n);
  const Lanes delta = m1_add - m1;
  m1 = m1 + c * delta;
  m2 = m2 + (m2_add + delta * delta * c * static_cast<float>(m0));
}

// 1 / (j + 1) for j < kChunk, torch's c_vecs: the Welford weight of a chunk's (j+1)-th vector.
const std::array<float, kChunk>& inv_count() {
  static const std::array<float, kChunk> table = [] {
    std::array<float, kChunk> inv{};
    for (int64_t i = 0; i < kChunk; ++i) inv[i] = 1.0f / static_cast<float>(i + 1);
    return inv;
  }();
  return table;
}

// utils::RowwiseMomentsImpl (ddof 0) of R rows of the same width at once: Welford per lane over chunks of 16
// vectors, chunks merged through a binary cascade, then the scalar tail, then the 8 lanes folded into the tail's
// moments; mean[r] and var[r] (biased) are what torch returns for row r alone. Torch's recurrence is one long
// dependency chain per row: running R rows side by side gives the CPU R chains to overlap.
template <int R>
void rowwise_moments(const float* const* x, int64_t channels, float* mean, float* var) {
  const int64_t n = channels / kLanes;  // full vectors
  const int64_t m = (n + kChunk - 1) / kChunk;
  const int64_t depth = ceil_log2(m);
  assert(depth <= kMaxDepth);  // channels < 2^39
  const auto& inv = inv_count();

  std::array<int64_t, kMaxDepth> m0_stk;
  std::array<std::array<Lanes, R>, kMaxDepth> m1_stk, m2_stk;
  for (int64_t d = 0; d < depth; ++d) {
    m0_stk[d] = 0;
    for (int r = 0; r < R; ++r) m1_stk[d][r] = m2_stk[d][r] = Lanes{};
  }

  for (int64_t i = 0; i < m; ++i) {
    const int64_t count = std::min(kChunk, n - i * kChunk);
    Lanes m1[R] = {}, m2[R] = {};
    for (int64_t j = 0; j < count; ++j) {
      for (int r = 0; r < R; ++r) {
        Lanes v;
        load_lanes(x[r] + (i * kChunk + j) * kLanes, v);
        const Lanes delta = v - m1[r];
        m1[r] = m1[r] + delta * inv[j];
        m2[r] = m2[r] + delta * (v - m1[r]);
      }
    }
    for (int r = 0; r < R; ++r) add_moments_vec(count, m1[r], m2[r], m0_stk[0], m1_stk[0][r], m2_stk[0][r]);
    m0_stk[0] += count;
    int64_t mask = i + 1;
    for (int64_t d = 1; d < depth && (mask & 1) == 0; ++d) {
      for (int r = 0; r < R; ++r) {
        add_moments_vec(m0_stk[d - 1], m1_stk[d - 1][r], m2_stk[d - 1][r], m0_stk[d], m1_stk[d][r], m2_stk[d][r]);
        m1_stk[d - 1][r] = m2_stk[d - 1][r] = Lanes{};
      }
      m0_stk[d] += m0_stk[d - 1];
      m0_stk[d - 1] = 0;
      mask >>= 1;
    }
  }
  for (int64_t d = 1; d < depth; ++d) {
    for (int r = 0; r < R; ++r) {
      add_moments_vec(m0_stk[d], m1_stk[d][r], m2_stk[d][r], m0_stk[0], m1_stk[0][r], m2_stk[0][r]);
    }
    m0_stk[0] += m0_stk[d];
  }

  float m1[R] = {}, m2[R] = {};
  int64_t m0 = 0;
  for (int64_t i = n * kLanes; i < channels; ++i) {
    ++m0;
    for (int r = 0; r < R; ++r) {
      const float delta = x[r][i] - m1[r];
      m1[r] = m1[r] + delta / static_cast<float>(m0);
      m2[r] = m2[r] + delta * (x[r][i] - m1[r]);
    }
  }
  for (int64_t l = 0; l < kLanes; ++l, m0 += n) {
    for (int r = 0; r < R; ++r) add_moments(n, m1_stk[0][r][l], m2_stk[0][r][l], m0, m1[r], m2[r]);
  }
  for (int r = 0; r < R; ++r) mean[r] = m1[r], var[r] = m2[r] / static_cast<float>(channels);
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

// Moments of `count` rows starting at x (count <= kRowsAtOnce), in blocks of 8, 4, 2 and 1 rows.
void block_moments(const float* x, int count, int64_t channels, float* mean, float* var) {
  const float* in[kRowsAtOnce];
  for (int r = 0; r < count; ++r) in[r] = x + r * channels;
  int r = 0;
  for (; r + 8 <= count; r += 8) rowwise_moments<8>(in + r, channels, mean + r, var + r);
  for (; r + 4 <= count; r += 4) rowwise_moments<4>(in + r, channels, mean + r, var + r);
  for (; r + 2 <= count; r += 2) rowwise_moments<2>(in + r, channels, mean + r, var + r);
  for (; r < count; ++r) rowwise_moments<1>(in + r, channels, mean + r, var + r);
}

}  // namespace

void layer_norm(const float* x, int64_t rows, int64_t channels, const float* gamma, const float* beta, float eps,
                float* y) {
  assert(channels > 0);
  // The affine step's ISA is chosen once per process, not per row.
  using AffineFn = void (*)(const float*, int64_t, float, float, const float*, const float*, float*);
  static const AffineFn affine =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? affine_avx2 : affine_portable;
  const int64_t blocks = (rows + kRowsAtOnce - 1) / kRowsAtOnce;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * kRowsAtOnce;
    const int count = static_cast<int>(std::min<int64_t>(kRowsAtOnce, rows - first));
    float mean[kRowsAtOnce], var[kRowsAtOnce];
    block_moments(x + first * channels, count, channels, mean, var);  // before any row of y is written (aliasing)
    for (int r = 0; r < count; ++r) {
      const float rstd = 1.0f / std::sqrt(var[r] + eps);
      const float bias = -rstd * mean[r];
      const float* in = x + (first + r) * channels;
      float* out = y + (first + r) * channels;
      affine(in, channels, rstd, bias, gamma, beta, out);
    }
  }
}

}  // namespace fqvit::torch_cpu
