// CPUID queries and the AMX permission request (Linux arch_prctl; see cpu_features.h).
#include "kernels/cpu_features.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace fqvit::kernels {
namespace {

constexpr long kArchReqXcompPerm = 0x1023;  // <asm/prctl.h> ARCH_REQ_XCOMP_PERM
constexpr long kXfeatureXtiledata = 18;      // the tile-data state component

}  // namespace

bool cpu_has_avx512_vnni() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return has;
}

std::atomic<bool> vbmi_masked{false};

bool cpu_has_avx512_vbmi() {
  static const bool has =
      cpu_has_avx512_vnni() && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512ifma");
  return has && !vbmi_masked.load(std::memory_order_relaxed);
}

void mask_avx512_vbmi(bool masked) { vbmi_masked.store(masked, std::memory_order_relaxed); }

bool cpu_has_amx_int8() {
  static const bool has =
      cpu_has_avx512_vnni() && __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8");
  return has;
}

bool amx_permitted_in_this_thread() {
  // 0: not asked yet in this thread, 1: granted, -1: refused.
  thread_local int state = 0;
  if (state == 0) {
    const long rc = cpu_has_amx_int8() ? syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) : -1;
    const int error = errno;
    state = rc == 0 ? 1 : -1;
    static std::atomic<bool> noticed{false};
    if (state < 0 && cpu_has_amx_int8() && !noticed.exchange(true)) {
      std::fprintf(stderr, "fqvit: the OS refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM: %s); "
                   "running the AVX-512 VNNI kernels instead\n", std::strerror(error));
    }
  }
  return state > 0;
}

}  // namespace fqvit::kernels
