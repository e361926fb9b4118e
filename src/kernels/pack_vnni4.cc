// Packing of int8 weights into VNNI-4 blocks (kernels/packed_layout.h), once at load.
#include <cstring>

#include "kernels/packed_layout.h"

namespace fqvit::kernels {

Vnni4Weights pack_vnni4(const int8_t* w, int64_t n, int64_t k, int8_t* packed) {
  const int64_t k_padded = round_up(k, kPadK);
  std::memset(packed, 0, static_cast<size_t>(vnni4_packed_bytes(n, k)));
  for (int64_t j = 0; j < n; ++j) {
    int8_t* block = packed + (j / kBlockN) * k_padded * kBlockN + (j % kBlockN) * kGroupK;
    for (int64_t q = 0; q < k; ++q) block[(q / kGroupK) * kBlockN * kGroupK + q % kGroupK] = w[j * k + q];
  }
  return Vnni4Weights{packed, n, k, k_padded};
}

}  // namespace fqvit::kernels
