// The VNNI dot products as tied-operand asm, and compile-time unrolling, for the AVX-512 kernels that keep arrays
// of accumulators in registers (GEMM micro-tiles, attention tiles). Include only from files compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni.
//
// Why asm: with the intrinsics, GCC 12's register allocator copied accumulators between registers and the stack on
// every iteration, depending on unrelated code after the loop (measured 2x slower in the GEMM, 1.3x in attention);
// the "+v" tie keeps each accumulator in one register across the loop.
#pragma once

#include "kernels/x86/immintrin_quiet.h"

#include <utility>

namespace fqvit::kernels {

// acc + the 4 u8 x s8 products of each lane (vpdpbusd: a unsigned, w signed; no saturation, sums wrap).
inline __m512i dpbusd(__m512i acc, __m512i a, __m512i w) {
  __asm__("vpdpbusd %[w], %[a], %[acc]" : [acc] "+v"(acc) : [a] "v"(a), [w] "vm"(w));
  return acc;
}

// acc + the 2 int16 x int16 products of each lane (vpdpwssd; no saturation, sums wrap).
inline __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
  __asm__("vpdpwssd %[b], %[a], %[acc]" : [acc] "+v"(acc) : [a] "v"(a), [b] "vm"(b));
  return acc;
}

// Calls f(integral_constant<int, i>) for i in [0, N). The indices are constants before GCC's scalar replacement of
// aggregates runs, so accumulator arrays indexed by them can live in registers (loops with #pragma GCC unroll are
// unrolled too late for that, and the arrays spill).
template <int N, typename F>
inline void unrolled(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (f(std::integral_constant<int, I>{}), ...);
  }(std::make_integer_sequence<int, N>{});
}

}  // namespace fqvit::kernels
