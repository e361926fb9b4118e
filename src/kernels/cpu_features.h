// What this CPU and OS let the integer kernels use, asked once (CPUID through __builtin_cpu_supports, which also
// checks that the OS saves the zmm / tile state), and the per-thread AMX tile-data permission.
#pragma once

namespace fqvit::kernels {

bool cpu_has_avx512_vnni();  // AVX-512 F, BW, VL and VNNI (vpdpbusd)
bool cpu_has_avx512_vbmi();  // cpu_has_avx512_vnni(), VBMI (vpermb, vpermi2b) and IFMA (vpmadd52huq): Ice Lake, Zen 4
                             // on; not Cascade Lake
// For tests: masked, cpu_has_avx512_vbmi() answers false and the kernels that need VBMI take their fallbacks (the
// gather-form softmax), so both forms run on one CPU; unmasked, it answers CPUID again.
void mask_avx512_vbmi(bool masked);
bool cpu_has_amx_int8();     // AMX-TILE and AMX-INT8 (TDPBUSD), plus the AVX-512 set the AMX epilogue uses

// Linux hands out AMX tile data only on request (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); the first
// call in each thread asks, later calls return the answer. On refusal, prints one notice per process (the caller
// then runs the VNNI kernels) and never crashes.
bool amx_permitted_in_this_thread();

}  // namespace fqvit::kernels
