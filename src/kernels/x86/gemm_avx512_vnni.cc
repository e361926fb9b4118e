// AVX-512 VNNI GEMM kernels (vpdpbusd) over VNNI-4 packed weights (kernels/packed_layout.h), with the
// requantization fused into the epilogue (requant_avx512.h). Compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512vnni (CMakeLists.txt); run only when CPUID reports them.
//
// Tiling: a micro-tile is kRows rows of A x kBlocks * 16 output channels, held in kRows * kBlocks zmm int32
// accumulators (6 x 4 = 24 of the 32 registers; 4 more hold one group of weights, 1 the broadcast A word).
// For every group of 4 k: load the 4 weight rows (64 bytes each: 16 channels x 4 k), broadcast each row's 4 A
// bytes to all lanes, 24 vpdpbusd. The accumulators start at the bias, so the int32 result is exact under the
// bound in gemm.h (vpdpbusd adds the 4 u8 x s8 products to the lane without saturation). The epilogue stores the
// int32 sums or requantizes them; column tails are masked, row tails use a smaller micro-tile (template), the K
// tail (K % 4) reads the last A bytes one by one into a zero-padded word (the packed weights are zero there).
//
// Codegen: the accumulators stay in registers only when nothing forces GCC to copy them (vpdpbusd in asm with a
// tied operand, compile-time indices, one flattened function per micro-tile). After a change, check
// fqvit-bench-gemm ("ours s32" near "onednn s32") or the object code (no %rsp traffic and no register copies
// between the vpdpbusd of micro_tile<6, 4>).
//
// Loop order: rows in chunks of kRowChunk (A chunk <= kRowChunk * K bytes stays in L2), then 64-channel panels
// (a panel, 64 * K bytes, stays in L1 / L2 while the chunk's micro-tiles pass over it), then micro-tiles.
#include "kernels/x86/immintrin_quiet.h"

#include <cstring>
#include <utility>

#include "kernels/x86/bucket_lookup_avx512.h"
#include "kernels/x86/gemm_x86.h"
#include "kernels/x86/plus_epilogue_avx512.h"
#include "kernels/x86/requant_avx512.h"
#include "kernels/x86/vnni_asm.h"

namespace fqvit::kernels {
namespace {

constexpr int kRows = 6;
constexpr int kBlocks = 4;
constexpr int64_t kRowChunk = 96;

// The 4 A bytes of group g (k = 4 g .. 4 g + 3) as one little-endian word; past the row end they are zero.
inline int32_t a_word(const uint8_t* row, int64_t g, int64_t k) {
  int32_t word = 0;
  const int64_t first = 4 * g;
  std::memcpy(&word, row + first, static_cast<size_t>(k - first >= 4 ? 4 : k - first));
  return word;
}

// One micro-tile: acc[r][b] = bias + sum over k of A row r times channel block b (16 channels), rows [0, R),
// blocks [0, B); then the int32 store (out_u8 == nullptr) or the requantizing store. One function with the
// accumulators local to it: GCC keeps them in registers only then (passed by reference, they spill).
template <int R, int B>
__attribute__((flatten)) void micro_tile(const Vnni4Weights& w, const int8_t* panel, const uint8_t* a, int64_t lda,
                                         const int32_t* bias, int64_t n_left, int32_t* c, int64_t ldc,
                                         const RequantParams* rq, const FixedMultiplier* multiplier, uint8_t* out,
                                         int64_t ldo, const BucketLookup* lut, const ChannelEpilogue* ch) {
  __m512i acc[R][B];
  unrolled<B>([&](auto b) {
    const __m512i init = bias ? _mm512_maskz_loadu_epi32(lane_mask(n_left - 16 * b), bias + 16 * b)
                              : _mm512_setzero_si512();
    unrolled<R>([&](auto r) { acc[r][b] = init; });
  });
  const int64_t stride = w.block_bytes();
  const int64_t full_groups = w.k / kGroupK;
  // One group of 4 k: B weight rows, R broadcast A words. The K tail (K % 4 != 0) reads its A bytes one by one.
  auto group = [&](int64_t g, auto is_tail) {
    __m512i wv[B];
    unrolled<B>([&](auto b) { wv[b] = _mm512_load_si512(panel + g * 64 + b * stride); });
    unrolled<R>([&](auto r) {
      int32_t word;
      if constexpr (is_tail) {
        word = a_word(a + r * lda, g, w.k);
      } else {
        std::memcpy(&word, a + r * lda + 4 * g, 4);
      }
      const __m512i av = _mm512_set1_epi32(word);
      unrolled<B>([&](auto b) { acc[r][b] = dpbusd(acc[r][b], av, wv[b]); });
    });
  };
  for (int64_t g = 0; g < full_groups; ++g) group(g, std::false_type{});
  if (w.k % kGroupK != 0) group(full_groups, std::true_type{});
  unrolled<B>([&](auto b) {
    const int64_t lanes = n_left - 16 * b < 16 ? n_left - 16 * b : 16;
    const __mmask16 mask = lane_mask(lanes);
    if (out == nullptr) {
      unrolled<R>([&](auto r) { _mm512_mask_storeu_epi32(c + r * ldc + 16 * b, mask, acc[r][b]); });
    } else {
      RequantLanes q = load_requant_lanes(multiplier + 16 * b, static_cast<int>(lanes), *rq);
      if (ch != nullptr) {  // fqvit_plus: per-channel zero points (and GELU groups), plus_epilogue_avx512.h
        const ChannelLanes cl = load_channel_lanes(*ch, (multiplier - rq->multiplier) + 16 * b, mask);
        unrolled<R>([&](auto r) {
          store_codes_u8(out + r * ldo + 16 * b, channel_epilogue(requantize_lanes(acc[r][b], q), *ch, cl, mask), mask);
        });
      } else if (lut != nullptr) {
        // clamp(clamp(h, lo, hi), origin, last) in one int64 clamp: to the intersection, or to the end of the table
        // nearer [lo, hi] when they do not meet.
        int64_t lo = rq->lo > lut->origin ? rq->lo : lut->origin, hi = rq->hi < lut->last ? rq->hi : lut->last;
        if (lo > hi) lo = hi = rq->hi < lut->origin ? lut->origin : lut->last;
        q.lo = _mm512_set1_epi64(lo - rq->zero_point), q.hi = _mm512_set1_epi64(hi - rq->zero_point);
        unrolled<R>([&](auto r) {
          store_codes_u8(out + r * ldo + 16 * b, bucket_lookup_in_range(requantize_lanes(acc[r][b], q), *lut, mask),
                         mask);
        });
      } else {
        unrolled<R>([&](auto r) { store_codes_u8(out + r * ldo + 16 * b, requantize_lanes(acc[r][b], q), mask); });
      }
    }
  });
}

using MicroTile = void (*)(const Vnni4Weights&, const int8_t*, const uint8_t*, int64_t, const int32_t*, int64_t,
                           int32_t*, int64_t, const RequantParams*, const FixedMultiplier*, uint8_t*, int64_t,
                           const BucketLookup*, const ChannelEpilogue*);

// Micro-tiles by [rows - 1][blocks - 1]: row and column tails run the same code with fewer registers.
#define FQVIT_TILE_ROW(r) {&micro_tile<r, 1>, &micro_tile<r, 2>, &micro_tile<r, 3>, &micro_tile<r, 4>}
constexpr MicroTile kMicroTiles[kRows][kBlocks] = {FQVIT_TILE_ROW(1), FQVIT_TILE_ROW(2), FQVIT_TILE_ROW(3),
                                                   FQVIT_TILE_ROW(4), FQVIT_TILE_ROW(5), FQVIT_TILE_ROW(6)};
#undef FQVIT_TILE_ROW

// Runs tile(rows, blocks, row0, n0) over the whole output in the loop order described at the top of the file.
template <typename Tile>
void for_each_tile(const Vnni4Weights& w, int64_t m, Tile&& tile) {
  const int64_t panel_n = kBlocks * kBlockN;
  for (int64_t m0 = 0; m0 < m; m0 += kRowChunk) {
    const int64_t m1 = m0 + kRowChunk < m ? m0 + kRowChunk : m;
    for (int64_t n0 = 0; n0 < w.n; n0 += panel_n) {
      const int64_t n_left = w.n - n0 < panel_n ? w.n - n0 : panel_n;
      const int blocks = static_cast<int>((n_left + kBlockN - 1) / kBlockN);
      for (int64_t r0 = m0; r0 < m1; r0 += kRows) {
        const int rows = static_cast<int>(m1 - r0 < kRows ? m1 - r0 : kRows);
        tile(rows, blocks, r0, n0, n_left);
      }
    }
  }
}

}  // namespace

void gemm_u8s8s32_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                              int32_t* c, int64_t ldc) {
  for_each_tile(w, m, [&](int rows, int blocks, int64_t r0, int64_t n0, int64_t n_left) {
    kMicroTiles[rows - 1][blocks - 1](w, w.data + (n0 / kBlockN) * w.block_bytes(), a + r0 * lda, lda,
                                      bias ? bias + n0 : nullptr, n_left, c + r0 * ldc + n0, ldc, nullptr, nullptr,
                                      nullptr, 0, nullptr, nullptr);
  });
}

void gemm_u8s8_requant_u8_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda,
                                      const int32_t* bias, const RequantParams& rq, uint8_t* out, int64_t ldo) {
  for_each_tile(w, m, [&](int rows, int blocks, int64_t r0, int64_t n0, int64_t n_left) {
    kMicroTiles[rows - 1][blocks - 1](w, w.data + (n0 / kBlockN) * w.block_bytes(), a + r0 * lda, lda,
                                      bias ? bias + n0 : nullptr, n_left, nullptr, 0, &rq, rq.multiplier + n0,
                                      out + r0 * ldo + n0, ldo, nullptr, nullptr);
  });
}

void gemm_u8s8_lookup_u8_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda,
                                     const int32_t* bias, const RequantParams& rq, const BucketLookup& lut,
                                     uint8_t* out, int64_t ldo) {
  for_each_tile(w, m, [&](int rows, int blocks, int64_t r0, int64_t n0, int64_t n_left) {
    kMicroTiles[rows - 1][blocks - 1](w, w.data + (n0 / kBlockN) * w.block_bytes(), a + r0 * lda, lda,
                                      bias ? bias + n0 : nullptr, n_left, nullptr, 0, &rq, rq.multiplier + n0,
                                      out + r0 * ldo + n0, ldo, &lut, nullptr);
  });
}

void gemm_u8s8_channel_u8_avx512_vnni(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda,
                                      const int32_t* bias, const RequantParams& rq, const ChannelEpilogue& ep,
                                      uint8_t* out, int64_t ldo) {
  for_each_tile(w, m, [&](int rows, int blocks, int64_t r0, int64_t n0, int64_t n_left) {
    kMicroTiles[rows - 1][blocks - 1](w, w.data + (n0 / kBlockN) * w.block_bytes(), a + r0 * lda, lda,
                                      bias ? bias + n0 : nullptr, n_left, nullptr, 0, &rq, rq.multiplier + n0,
                                      out + r0 * ldo + n0, ldo, nullptr, &ep);
  });
}

void requantize_u8_avx512(int64_t m, int64_t n, const int32_t* acc, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, uint8_t* out, int64_t ldo) {
  // Rows in groups of kRows, so the pass walks memory row by row (a column-block-first walk over a large matrix
  // measured 5x slower) while the constants of a 16-channel block are loaded once per group.
  for (int64_t i0 = 0; i0 < m; i0 += kRows) {
    const int64_t i1 = i0 + kRows < m ? i0 + kRows : m;
    for (int64_t j = 0; j < n; j += kBlockN) {
      const int64_t lanes = n - j < kBlockN ? n - j : kBlockN;
      const __mmask16 mask = lane_mask(lanes);
      const RequantLanes q = load_requant_lanes(rq.multiplier + j, static_cast<int>(lanes), rq);
      const __m512i b = bias ? _mm512_maskz_loadu_epi32(mask, bias + j) : _mm512_setzero_si512();
      for (int64_t i = i0; i < i1; ++i) {
        const __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(mask, acc + i * lda + j), b);
        store_codes_u8(out + i * ldo + j, requantize_lanes(v, q), mask);
      }
    }
  }
}

}  // namespace fqvit::kernels
