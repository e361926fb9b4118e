// Per-thread scratch memory for the per-ISA kernels of src/kernels/x86/. Those files must not instantiate std
// templates (CMakeLists.txt, fqvit_isa_sources(): the linker keeps one copy of an inline template, possibly the
// AVX-512 one, for every caller), so their buffers come from here, a file built for the baseline ISA.
#pragma once

#include <cstdint>

namespace fqvit::kernels {

constexpr int kScratchSlots = 8;

// At least `bytes` of 64-byte aligned memory owned by the calling thread, one independent buffer per `slot` in
// [0, kScratchSlots), grown on demand and kept until the thread ends. Contents are unspecified.
void* thread_scratch(int slot, int64_t bytes);

}  // namespace fqvit::kernels
