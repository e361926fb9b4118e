// The packed weight layout shared by the AVX-512 VNNI and AMX kernels ("VNNI-4 blocks"), and the plain view of it
// the per-ISA files read. Plain types only: this header is included by files compiled with ISA flags.
//
// Weights w[n][k] (int8, row-major) are cut into blocks of 16 output channels. Inside a block, K is cut into
// groups of 4 consecutive k; one group of the block is 64 bytes: channel j's 4 bytes at offset 4 j.
//
//   packed[((nb * k_padded / 4) + g) * 64 + 4 j + t] = w[16 nb + j][4 g + t]     (zero outside w)
//
// so one 64-byte row is one zmm operand of vpdpbusd (16 int32 lanes, 4 products each) and 16 consecutive rows are
// one AMX B tile (16 rows x 64 bytes, K = 64). K is zero-padded to a multiple of 64 and N to a multiple of 32 (two
// B tiles), so neither kernel needs a K or N tail inside the packed data: zero weights add nothing.
#pragma once

#include <cstdint>

namespace fqvit::kernels {

constexpr int64_t kBlockN = 16;      // output channels per block (one zmm of int32)
constexpr int64_t kGroupK = 4;       // k per vpdpbusd lane
constexpr int64_t kPadK = 64;        // K padding: one AMX tile row
constexpr int64_t kPadN = 32;        // N padding: two AMX B tiles
constexpr int64_t kPackAlign = 64;   // bytes; every block row is one aligned cache line

struct Vnni4Weights {
  const int8_t* data = nullptr;  // 64-byte aligned
  int64_t n = 0;                 // real output channels
  int64_t k = 0;                 // real depth
  int64_t k_padded = 0;          // multiple of kPadK
  int64_t block_bytes() const { return k_padded * kBlockN; }  // bytes of one 16-channel block
};

constexpr int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Bytes of the packed form of an n x k weight matrix: k_padded x round_up(n, kPadN).
constexpr int64_t vnni4_packed_bytes(int64_t n, int64_t k) { return round_up(k, kPadK) * round_up(n, kPadN); }

// Writes w[n][k] (row-major) into `packed` (vnni4_packed_bytes(n, k) bytes, 64-byte aligned) in the layout above,
// zeros included, and returns the view of it.
Vnni4Weights pack_vnni4(const int8_t* w, int64_t n, int64_t k, int8_t* packed);

}  // namespace fqvit::kernels
