// vpdpbusd peak: 16 independent zmm accumulators (enough to cover the instruction's latency on 2 ports), each
// instruction 16 lanes x 4 multiply-adds = 128 ops. Compiled with the AVX-512 VNNI flags (bench/CMakeLists.txt).
#include "kernels/x86/immintrin_quiet.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "isa_peak.h"
#include "kernels/cpu_features.h"

namespace fqvit::bench {

double vnni_peak_ops_per_second() {
  if (!kernels::cpu_has_avx512_vnni()) return 0;
  constexpr int64_t kIterations = 200'000;  // ~1 ms per run: the best of many runs dodges preemption
  constexpr int kAcc = 16;
  // The loop in asm on fixed registers (zmm0..15 accumulate zmm16 x zmm17; the values do not change the timing):
  // GCC 12 merges identical intrinsic chains or shuffles them through the stack every iteration.
#define FQVIT_DP(i) "vpdpbusd %%zmm17, %%zmm16, %%zmm" #i "\n\t"
  double best = 1e30;
  for (int run = 0; run < 200; ++run) {
  const auto t0 = std::chrono::steady_clock::now();
  __asm__ volatile(
      "vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\t"
      "vpternlogd $0xff, %%zmm17, %%zmm17, %%zmm17\n\t"
      "mov %[n], %%rcx\n\t"
      "1:\n\t" FQVIT_DP(0) FQVIT_DP(1) FQVIT_DP(2) FQVIT_DP(3) FQVIT_DP(4) FQVIT_DP(5) FQVIT_DP(6) FQVIT_DP(7)
          FQVIT_DP(8) FQVIT_DP(9) FQVIT_DP(10) FQVIT_DP(11) FQVIT_DP(12) FQVIT_DP(13) FQVIT_DP(14) FQVIT_DP(15)
      "dec %%rcx\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      :
      : [n] "r"(kIterations)
      : "rcx", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17");
#undef FQVIT_DP
  best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return static_cast<double>(kIterations) * kAcc * 128 / best;
}

}  // namespace fqvit::bench
