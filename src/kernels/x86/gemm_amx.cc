// AMX int8 GEMM kernels (TDPBUSD) over VNNI-4 packed weights (kernels/packed_layout.h), with the int32 tiles
// stored to memory and the requantization epilogue of the VNNI kernels (requant_avx512.h) run on them. Compiled
// with -mamx-tile -mamx-int8 and the AVX-512 flags (CMakeLists.txt); run only when CPUID reports AMX-INT8 and the
// calling thread holds tile-data permission (cpu_features.h), else the dispatcher runs the VNNI kernel.
//
// Tiles (palette 1, every tile configured 16 rows x 64 bytes, once per call):
//   tmm0..tmm3  C: a 32 x 32 int32 block as 2 x 2 tiles of 16 rows x 16 int32
//   tmm4, tmm5  A: rows 0..15 and 16..31 of the block, 64 k each (u8)
//   tmm6, tmm7  B: channels 0..15 and 16..31, 64 k each, i.e. 16 rows of 16 channels x 4 k = one VNNI-4 block's
//               16 consecutive groups, row stride 64 bytes: the packed layout is already the tile layout.
// Per 64 k: 4 tile loads, 4 TDPBUSD (each 16 x 16 x 64 MACs). The TDPBUSD sums are exact int32 (no saturation).
//
// Tails: A rows are copied per 32-row block into a zero-filled scratch of 32 x k_padded bytes (k_padded a
// multiple of 64), so the M tail and the K tail (K % 64) multiply zeros; N is padded to a multiple of 32 in the
// packing. The epilogue reads only the real rows and channels of the stored C block. The copy costs 32 K bytes per
// block of 32 rows against 32 x N x K MACs.
#include "kernels/x86/immintrin_quiet.h"

#include <cstring>

#include "kernels/x86/gemm_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kTileRows = 16;
constexpr int64_t kTileBytes = 64;
constexpr int64_t kBlockM = 2 * kTileRows;
constexpr int64_t kBlockCols = 2 * kBlockN;

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads a 64-byte block");

// Configures tmm0..tmm7 as 16 rows x 64 bytes for the duration of one call.
class TileScope {
 public:
  TileScope() {
    TileConfig config;
    for (int t = 0; t < 8; ++t) {
      config.colsb[t] = static_cast<uint16_t>(kTileBytes);
      config.rows[t] = static_cast<uint8_t>(kTileRows);
    }
    _tile_loadconfig(&config);
  }
  ~TileScope() { _tile_release(); }
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
};

// Rows [r0, r0 + rows) of A into a zero-padded kBlockM x k_padded block.
void copy_a_block(const Vnni4Weights& w, const uint8_t* a, int64_t lda, int64_t rows, uint8_t* block) {
  std::memset(block, 0, static_cast<size_t>(kBlockM * w.k_padded));
  for (int64_t r = 0; r < rows; ++r) std::memcpy(block + r * w.k_padded, a + r * lda, static_cast<size_t>(w.k));
}

// c_block (kBlockM x kBlockCols int32, row stride kBlockCols) = A block x channels [n0, n0 + 32), bias excluded.
void multiply_block(const Vnni4Weights& w, const uint8_t* a_block, int64_t n0, int32_t* c_block) {
  const int8_t* b0 = w.data + (n0 / kBlockN) * w.block_bytes();
  const int8_t* b1 = b0 + w.block_bytes();
  const int64_t a_stride = w.k_padded;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t k0 = 0; k0 < w.k_padded; k0 += kTileBytes) {
    const int64_t b_offset = (k0 / kGroupK) * kTileBytes;  // 16 groups of 64 bytes per 64 k
    _tile_loadd(4, a_block + k0, a_stride);
    _tile_loadd(5, a_block + kTileRows * a_stride + k0, a_stride);
    _tile_loadd(6, b0 + b_offset, kTileBytes);
    _tile_loadd(7, b1 + b_offset, kTileBytes);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  constexpr int64_t c_stride = kBlockCols * sizeof(int32_t);
  _tile_stored(0, c_block, c_stride);
  _tile_stored(1, c_block + kBlockN, c_stride);
  _tile_stored(2, c_block + kTileRows * kBlockCols, c_stride);
  _tile_stored(3, c_block + kTileRows * kBlockCols + kBlockN, c_stride);
}

inline __m512i biased(const int32_t* c_row, const int32_t* bias, int64_t half, __mmask16 mask) {
  const __m512i acc = _mm512_loadu_si512(c_row + half * kBlockN);
  return bias ? _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(mask, bias + half * kBlockN)) : acc;
}

// Calls epilogue(rows, r0, n0, cols, c_block) for every 32 x 32 block of the output.
template <typename Epilogue>
void for_each_block(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda, uint8_t* scratch,
                    Epilogue&& epilogue) {
  auto* c_block = reinterpret_cast<int32_t*>(scratch);
  uint8_t* a_block = scratch + kBlockM * kBlockCols * sizeof(int32_t);
  const TileScope tiles;
  for (int64_t r0 = 0; r0 < m; r0 += kBlockM) {
    const int64_t rows = m - r0 < kBlockM ? m - r0 : kBlockM;
    copy_a_block(w, a + r0 * lda, lda, rows, a_block);
    for (int64_t n0 = 0; n0 < w.n; n0 += kBlockCols) {
      const int64_t cols = w.n - n0 < kBlockCols ? w.n - n0 : kBlockCols;
      multiply_block(w, a_block, n0, c_block);
      epilogue(rows, r0, n0, cols, c_block);
    }
  }
}

}  // namespace

int64_t amx_scratch_bytes(const Vnni4Weights& w) {
  return kBlockM * kBlockCols * static_cast<int64_t>(sizeof(int32_t)) + kBlockM * w.k_padded;
}

void gemm_u8s8s32_amx(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                      int32_t* c, int64_t ldc, uint8_t* scratch) {
  for_each_block(w, m, a, lda, scratch, [&](int64_t rows, int64_t r0, int64_t n0, int64_t cols, const int32_t* cb) {
    const int32_t* bias_n = bias ? bias + n0 : nullptr;
    for (int64_t half = 0; half * kBlockN < cols; ++half) {
      const __mmask16 mask = lane_mask(cols - half * kBlockN);
      for (int64_t r = 0; r < rows; ++r) {
        _mm512_mask_storeu_epi32(c + (r0 + r) * ldc + n0 + half * kBlockN, mask,
                                 biased(cb + r * kBlockCols, bias_n, half, mask));
      }
    }
  });
}

void gemm_u8s8_requant_u8_amx(const Vnni4Weights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                              const RequantParams& rq, uint8_t* out, int64_t ldo, uint8_t* scratch) {
  for_each_block(w, m, a, lda, scratch, [&](int64_t rows, int64_t r0, int64_t n0, int64_t cols, const int32_t* cb) {
    const int32_t* bias_n = bias ? bias + n0 : nullptr;
    for (int64_t half = 0; half * kBlockN < cols; ++half) {
      const int64_t lanes = cols - half * kBlockN < kBlockN ? cols - half * kBlockN : kBlockN;
      const __mmask16 mask = lane_mask(lanes);
      const RequantLanes q = load_requant_lanes(rq.multiplier + n0 + half * kBlockN, static_cast<int>(lanes), rq);
      for (int64_t r = 0; r < rows; ++r) {
        store_codes_u8(out + (r0 + r) * ldo + n0 + half * kBlockN,
                       requantize_lanes(biased(cb + r * kBlockCols, bias_n, half, mask), q), mask);
      }
    }
  });
}

}  // namespace fqvit::kernels
