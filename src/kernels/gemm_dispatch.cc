// Packed weights and the dispatching GEMM entry points: one table of kernels per path (ref, AVX-512 VNNI, AMX),
// the path chosen once from CPUID or forced by FQVIT_ISA / force_gemm_isa(). Weights are packed once, at load, in
// the layout of the path in use (plain rows for ref, VNNI-4 blocks for VNNI and AMX: packed_layout.h) and keep
// that path; the AMX path runs its VNNI twin in a thread the OS refuses tile state (same layout, same bits).
#include <atomic>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/kernels/gemm.h"
#include "kernels/cpu_features.h"
#include "kernels/packed_layout.h"
#include "kernels/x86/gemm_x86.h"

namespace fqvit {

using kernels::Vnni4Weights;

struct PackedWeights::Impl {
  struct AlignedFree {
    void operator()(int8_t* p) const { ::operator delete[](p, std::align_val_t{kernels::kPackAlign}); }
  };
  GemmIsa isa = GemmIsa::kRef;
  int64_t n = 0;
  int64_t k = 0;
  std::vector<int8_t> rows;                       // ref: [n][k]
  std::unique_ptr<int8_t[], AlignedFree> blocks;  // VNNI / AMX: VNNI-4 blocks
  Vnni4Weights vnni4;                             // view of `blocks`
};

namespace {

// VNNI-4 blocks of w (packed_layout.h).
void pack_vnni4(const int8_t* w, int64_t n, int64_t k, PackedWeights::Impl& p) {
  p.blocks.reset(new (std::align_val_t{kernels::kPackAlign}) int8_t[kernels::vnni4_packed_bytes(n, k)]);
  p.vnni4 = kernels::pack_vnni4(w, n, k, p.blocks.get());
}

// The AMX kernels' per-thread scratch (C block + zero-padded A block), grown on demand, never shrunk.
uint8_t* amx_scratch(int64_t bytes) {
  struct Scratch {
    uint8_t* data = nullptr;
    int64_t size = 0;
    ~Scratch() { ::operator delete[](data, std::align_val_t{kernels::kPackAlign}); }
  };
  thread_local Scratch scratch;
  if (scratch.size < bytes) {
    ::operator delete[](scratch.data, std::align_val_t{kernels::kPackAlign});
    scratch.data = new (std::align_val_t{kernels::kPackAlign}) uint8_t[static_cast<size_t>(bytes)];
    scratch.size = bytes;
  }
  return scratch.data;
}

// One row of the dispatch table: how a path runs both GEMM forms over its packed weights.
struct GemmKernels {
  void (*s32)(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
              int32_t* c, int64_t ldc);
  void (*requant_u8)(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                     const RequantParams& rq, uint8_t* out, int64_t ldo);
  void (*requantize)(int64_t m, int64_t n, const int32_t* acc, int64_t lda, const int32_t* bias,
                     const RequantParams& rq, uint8_t* out, int64_t ldo);
  void (*lookup_u8)(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                    const RequantParams& rq, const BucketLookup& lut, uint8_t* out, int64_t ldo);
};

void ref_s32(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias, int32_t* c,
             int64_t ldc) {
  gemm_u8s8s32_ref(m, w.n, w.k, a, lda, w.rows.data(), bias, c, ldc);
}
void ref_requant(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                 const RequantParams& rq, uint8_t* out, int64_t ldo) {
  gemm_u8s8_requant_u8_ref(m, w.n, w.k, a, lda, w.rows.data(), bias, rq, out, ldo);
}
void ref_lookup(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                const RequantParams& rq, const BucketLookup& lut, uint8_t* out, int64_t ldo) {
  gemm_u8s8_lookup_u8_ref(m, w.n, w.k, a, lda, w.rows.data(), bias, rq, lut, out, ldo);
}
void vnni_lookup(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                 const RequantParams& rq, const BucketLookup& lut, uint8_t* out, int64_t ldo) {
  kernels::gemm_u8s8_lookup_u8_avx512_vnni(w.vnni4, m, a, lda, bias, rq, lut, out, ldo);
}
void vnni_s32(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
              int32_t* c, int64_t ldc) {
  kernels::gemm_u8s8s32_avx512_vnni(w.vnni4, m, a, lda, bias, c, ldc);
}
void vnni_requant(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                  const RequantParams& rq, uint8_t* out, int64_t ldo) {
  kernels::gemm_u8s8_requant_u8_avx512_vnni(w.vnni4, m, a, lda, bias, rq, out, ldo);
}
void amx_s32(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias, int32_t* c,
             int64_t ldc) {
  if (!kernels::amx_permitted_in_this_thread()) return vnni_s32(w, m, a, lda, bias, c, ldc);
  kernels::gemm_u8s8s32_amx(w.vnni4, m, a, lda, bias, c, ldc, amx_scratch(kernels::amx_scratch_bytes(w.vnni4)));
}
void amx_requant(const PackedWeights::Impl& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                 const RequantParams& rq, uint8_t* out, int64_t ldo) {
  if (!kernels::amx_permitted_in_this_thread()) return vnni_requant(w, m, a, lda, bias, rq, out, ldo);
  kernels::gemm_u8s8_requant_u8_amx(w.vnni4, m, a, lda, bias, rq, out, ldo,
                                    amx_scratch(kernels::amx_scratch_bytes(w.vnni4)));
}

// Indexed by GemmIsa.
constexpr GemmKernels kKernels[] = {
    {&ref_s32, &ref_requant, &requantize_u8_ref, &ref_lookup},
    {&vnni_s32, &vnni_requant, &kernels::requantize_u8_avx512, &vnni_lookup},
    {&amx_s32, &amx_requant, &kernels::requantize_u8_avx512, &vnni_lookup},  // AMX: the VNNI epilogue (same layout)
};

constexpr GemmIsa kAllIsas[] = {GemmIsa::kRef, GemmIsa::kAvx512Vnni, GemmIsa::kAmx};

GemmIsa fastest_supported() {
  if (gemm_isa_supported(GemmIsa::kAmx)) return GemmIsa::kAmx;
  if (gemm_isa_supported(GemmIsa::kAvx512Vnni)) return GemmIsa::kAvx512Vnni;
  return GemmIsa::kRef;
}

// FQVIT_ISA when set (it must name a path this CPU has), else the fastest path.
GemmIsa initial_isa() {
  const char* env = std::getenv("FQVIT_ISA");
  if (env == nullptr || *env == '\0') return fastest_supported();
  for (GemmIsa isa : kAllIsas) {
    if (std::string_view(env) != gemm_isa_name(isa)) continue;
    if (!gemm_isa_supported(isa)) {
      fail("environment", "FQVIT_ISA", env, "a path this CPU supports (its fastest: " +
           std::string(gemm_isa_name(fastest_supported())) + ")");
    }
    return isa;
  }
  fail("environment", "FQVIT_ISA", env, "ref, avx512_vnni or amx");
}

std::atomic<GemmIsa>& current_isa() {
  static std::atomic<GemmIsa> isa{initial_isa()};
  return isa;
}

const GemmKernels& kernels_for(const PackedWeights::Impl& w) { return kKernels[static_cast<int>(w.isa)]; }

}  // namespace

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::kRef: return "ref";
    case GemmIsa::kAvx512Vnni: return "avx512_vnni";
    case GemmIsa::kAmx: return "amx";
  }
  return "?";
}

bool gemm_isa_supported(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::kRef: return true;
    case GemmIsa::kAvx512Vnni: return kernels::cpu_has_avx512_vnni();
    case GemmIsa::kAmx: return kernels::cpu_has_amx_int8();
  }
  return false;
}

void force_gemm_isa(GemmIsa isa) {
  if (!gemm_isa_supported(isa)) {
    fail("force_gemm_isa", "isa", gemm_isa_name(isa), "a path this CPU supports (its fastest: " +
         std::string(gemm_isa_name(fastest_supported())) + ")");
  }
  current_isa().store(isa);
}

std::string gemm_isa() { return gemm_isa_name(current_isa().load()); }
GemmIsa gemm_isa_in_use() { return current_isa().load(); }

PackedWeights::PackedWeights(const int8_t* w, int64_t n, int64_t k) : impl_(std::make_unique<Impl>()) {
  assert(n >= 1 && k >= 1 && k <= kMaxGemmK);
  impl_->isa = current_isa().load();
  impl_->n = n;
  impl_->k = k;
  if (impl_->isa == GemmIsa::kRef) {
    impl_->rows.assign(w, w + n * k);
  } else {
    pack_vnni4(w, n, k, *impl_);
  }
}
PackedWeights::~PackedWeights() = default;
PackedWeights::PackedWeights(PackedWeights&&) noexcept = default;
PackedWeights& PackedWeights::operator=(PackedWeights&&) noexcept = default;
int64_t PackedWeights::n() const { return impl_->n; }
int64_t PackedWeights::k() const { return impl_->k; }
int64_t PackedWeights::bytes() const {
  return impl_->isa == GemmIsa::kRef ? static_cast<int64_t>(impl_->rows.size())
                                     : kernels::vnni4_packed_bytes(impl_->n, impl_->k);
}

GemmIsa packed_isa(const PackedWeights& w) { return w.impl().isa; }

void gemm_u8s8s32(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias, int32_t* c,
                  int64_t ldc) {
  assert(lda >= w.k() && ldc >= w.n());
  if (m <= 0) return;
  kernels_for(w.impl()).s32(w.impl(), m, a, lda, bias, c, ldc);
}

void gemm_u8s8_requant_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, uint8_t* out, int64_t ldo) {
  assert(lda >= w.k() && ldo >= w.n());
  assert(rq.multiplier != nullptr && 0 <= rq.lo && rq.lo <= rq.hi && rq.hi <= 255);  // uint8 codes
  if (m <= 0) return;
  kernels_for(w.impl()).requant_u8(w.impl(), m, a, lda, bias, rq, out, ldo);
}

void gemm_u8s8_lookup_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                         const RequantParams& rq, const BucketLookup& lut, uint8_t* out, int64_t ldo) {
  assert(lda >= w.k() && ldo >= w.n());
  assert(rq.multiplier != nullptr && rq.lo <= rq.hi && lut.packed != nullptr && lut.origin <= lut.last);
  assert(lut.shift >= 0 && lut.shift <= 21);
  if (m <= 0) return;
  kernels_for(w.impl()).lookup_u8(w.impl(), m, a, lda, bias, rq, lut, out, ldo);
}

void gemm_u8s8_channel_u8(const PackedWeights& w, int64_t m, const uint8_t* a, int64_t lda, const int32_t* bias,
                          const RequantParams& rq, const ChannelEpilogue& ep, uint8_t* out, int64_t ldo) {
  assert(lda >= w.k() && ldo >= w.n());
  assert(rq.multiplier != nullptr && ep.zero_point != nullptr && 0 <= ep.lo && ep.lo <= ep.hi && ep.hi <= 255);
  if (m <= 0) return;
  if (w.impl().isa == GemmIsa::kRef) {
    return gemm_u8s8_channel_u8_ref(m, w.n(), w.k(), a, lda, w.impl().rows.data(), bias, rq, ep, out, ldo);
  }
  kernels::gemm_u8s8_channel_u8_avx512_vnni(w.impl().vnni4, m, a, lda, bias, rq, ep, out, ldo);  // AMX: its VNNI twin
}

void requantize_u8(int64_t m, int64_t n, const int32_t* acc, int64_t lda, const int32_t* bias,
                   const RequantParams& rq, uint8_t* out, int64_t ldo) {
  assert(lda >= n && ldo >= n);
  assert(rq.multiplier != nullptr && 0 <= rq.lo && rq.lo <= rq.hi && rq.hi <= 255);  // uint8 codes
  kKernels[static_cast<int>(current_isa().load())].requantize(m, n, acc, lda, bias, rq, out, ldo);
}

}  // namespace fqvit
