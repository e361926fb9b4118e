// Scalar emulation of the AMX tile instructions gemm_amx.cc uses, and that file compiled against it (see
// amx_emulator.h). Compiled with the AVX-512 flags (tests/CMakeLists.txt); no standard-library templates here, so
// no AVX-512 copy of them can leak into the other test files at link time.
#include "kernels/amx_emulator.h"

#include <cstdlib>
#include <cstring>

#include "kernels/packed_layout.h"
#include "kernels/x86/immintrin_quiet.h"

namespace fqvit::testing::amx {

// Palette 1: 8 tiles of at most 16 rows x 64 bytes.
struct Tiles {
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  alignas(64) uint8_t data[8][16][64] = {};
  bool configured = false;
};
thread_local Tiles tiles;

void fail_if(bool bad) {
  if (bad) std::abort();  // a kernel broke an AMX rule (#UD / #GP on real hardware)
}

void load_config(const void* config) {
  const auto* bytes = static_cast<const uint8_t*>(config);
  fail_if(bytes[0] != 1);  // palette 1
  for (int t = 0; t < 8; ++t) {
    std::memcpy(&tiles.colsb[t], bytes + 16 + 2 * t, 2);
    tiles.rows[t] = bytes[48 + t];
    fail_if(tiles.rows[t] > 16 || tiles.colsb[t] > 64);
  }
  std::memset(tiles.data, 0, sizeof tiles.data);
  tiles.configured = true;
}

void release() {
  tiles = Tiles{};
}

void zero(int t) {
  fail_if(!tiles.configured);
  std::memset(tiles.data[t], 0, sizeof tiles.data[t]);
}

void load(int t, const void* base, long stride) {
  fail_if(!tiles.configured);
  for (int r = 0; r < tiles.rows[t]; ++r) {
    std::memcpy(tiles.data[t][r], static_cast<const uint8_t*>(base) + r * stride, tiles.colsb[t]);
  }
}

void store(int t, void* base, long stride) {
  fail_if(!tiles.configured);
  for (int r = 0; r < tiles.rows[t]; ++r) {
    std::memcpy(static_cast<uint8_t*>(base) + r * stride, tiles.data[t][r], tiles.colsb[t]);
  }
}

// TDPBUSD tc, ta, tb: C[m][n] += sum over k < colsb(A) / 4 and i < 4 of u8 A[m][4 k + i] * s8 B[k][4 n + i],
// int32 wrap-around (the kernels stay below 2^31 by gemm.h's bound).
void dpbusd(int c, int a, int b) {
  fail_if(!tiles.configured || tiles.rows[c] != tiles.rows[a] || tiles.colsb[c] != tiles.colsb[b] ||
          tiles.colsb[a] != 4 * tiles.rows[b]);
  for (int m = 0; m < tiles.rows[c]; ++m) {
    for (int n = 0; n < tiles.colsb[c] / 4; ++n) {
      int32_t acc;
      std::memcpy(&acc, &tiles.data[c][m][4 * n], 4);
      uint32_t sum = static_cast<uint32_t>(acc);
      for (int k = 0; k < tiles.colsb[a] / 4; ++k) {
        for (int i = 0; i < 4; ++i) {
          const int32_t product = int32_t{tiles.data[a][m][4 * k + i]} *
                                  int32_t{static_cast<int8_t>(tiles.data[b][k][4 * n + i])};
          sum += static_cast<uint32_t>(product);
        }
      }
      acc = static_cast<int32_t>(sum);
      std::memcpy(&tiles.data[c][m][4 * n], &acc, 4);
    }
  }
}

}  // namespace fqvit::testing::amx

// gemm_amx.cc against the emulation: its tile intrinsics become the functions above and its public functions get
// other names (the library's real ones link into this binary too).
#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbusd
#define _tile_loadconfig(config) ::fqvit::testing::amx::load_config(config)
#define _tile_release() ::fqvit::testing::amx::release()
#define _tile_zero(t) ::fqvit::testing::amx::zero(t)
#define _tile_loadd(t, base, stride) ::fqvit::testing::amx::load(t, base, stride)
#define _tile_stored(t, base, stride) ::fqvit::testing::amx::store(t, base, stride)
#define _tile_dpbusd(c, a, b) ::fqvit::testing::amx::dpbusd(c, a, b)
#define amx_scratch_bytes emulated_amx_scratch_bytes
#define gemm_u8s8s32_amx emulated_gemm_u8s8s32_amx
#define gemm_u8s8_requant_u8_amx emulated_gemm_u8s8_requant_u8_amx
#include "kernels/x86/gemm_amx.cc"  // NOLINT(bugprone-suspicious-include)
#undef amx_scratch_bytes
#undef gemm_u8s8s32_amx
#undef gemm_u8s8_requant_u8_amx

namespace fqvit::testing {
namespace {

// Packed weights and the kernel's scratch, 64-byte aligned, freed on scope exit.
struct Buffers {
  kernels::Vnni4Weights w;
  int8_t* packed = nullptr;
  uint8_t* scratch = nullptr;
  Buffers(const int8_t* weights, int64_t n, int64_t k) {
    packed = static_cast<int8_t*>(std::aligned_alloc(64, static_cast<size_t>(kernels::vnni4_packed_bytes(n, k))));
    w = kernels::pack_vnni4(weights, n, k, packed);
    const auto bytes = kernels::round_up(kernels::emulated_amx_scratch_bytes(w), 64);
    scratch = static_cast<uint8_t*>(std::aligned_alloc(64, static_cast<size_t>(bytes)));
  }
  ~Buffers() {
    std::free(packed);
    std::free(scratch);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
};

}  // namespace

void emulated_amx_gemm_u8s8s32(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* w,
                               const int32_t* bias, int32_t* c, int64_t ldc) {
  const Buffers b(w, n, k);
  kernels::emulated_gemm_u8s8s32_amx(b.w, m, a, lda, bias, c, ldc, b.scratch);
}

void emulated_amx_gemm_u8s8_requant_u8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                                       const int8_t* w, const int32_t* bias, const RequantParams& rq, uint8_t* out,
                                       int64_t ldo) {
  const Buffers b(w, n, k);
  kernels::emulated_gemm_u8s8_requant_u8_amx(b.w, m, a, lda, bias, rq, out, ldo, b.scratch);
}

}  // namespace fqvit::testing
