// GELU on fc1 accumulators and the residual add in AVX-512, bit-exact with gelu_ref.cc and rescale_ref.cc.
//   GELU: h by requant_avx512.h's requantization (clamped to +-2^30 like requantize()), then the bucket lookup as
//         one gather of the packed table (bucket_packed: code, delta, the step's offset in the bucket, compared
//         with h's offset), or, without it, three: bucket_step as int32; bucket_code / bucket_delta are bytes,
//         gathered as the dword at o = min(b, buckets - 4) (never past the table's end) and shifted down by 8 (b - o)
//         bits.
//   Residual add: the two products (a - zp_a) ma + (b - zp_b) mb in int64 lanes (vpmuldq, exact: each < 2^39),
//         rounded half up by one arithmetic shift, as the reference.
// No std templates here (thread_scratch.h says why).
#include <cassert>
#include <cstddef>

#include "kernels/thread_scratch.h"
#include "kernels/x86/bucket_lookup_avx512.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kLanes = 16;

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// Byte table[b] for 16 int32 indices b in [0, size), size >= 4, without reading outside the table.
__m512i gather_bytes(const void* table, int64_t size, __m512i b) {
  const __m512i o = _mm512_min_epi32(b, _mm512_set1_epi32(static_cast<int32_t>(size - 4)));
  const __m512i dword = _mm512_i32gather_epi32(o, table, 1);
  const __m512i bits = _mm512_slli_epi32(_mm512_sub_epi32(b, o), 3);
  return _mm512_and_si512(_mm512_srlv_epi32(dword, bits), _mm512_set1_epi32(0xFF));
}

}  // namespace

void gelu_avx512(const GeluParams& p, const int32_t* acc, int64_t rows, uint8_t* out) {
  const auto buckets = static_cast<int64_t>(p.bucket_code.size());
  if (buckets < 4) return gelu_ref(p, acc, rows, out);  // the search form, or a table too short to gather from
  constexpr int32_t kHLimit = int32_t{1} << 30;
  // h never exceeds 2^30, so the clamp's top is taken there (never below the origin): the same clamp as the ref.
  const int64_t h_hi =
      max64(min64(p.bucket_origin + (buckets << p.bucket_shift) - 1, kHLimit), p.bucket_origin);
  const __m512i lo = _mm512_set1_epi32(p.bucket_origin), hi = _mm512_set1_epi32(static_cast<int32_t>(h_hi));
  const __m128i shift = _mm_cvtsi32_si128(p.bucket_shift);
  const uint32_t* packed = p.bucket_packed.size() == p.bucket_code.size() ? p.bucket_packed.data() : nullptr;
  const BucketLookup lut{packed, p.bucket_origin, static_cast<int32_t>(h_hi), p.bucket_shift};
  RequantParams rq;
  rq.multiplier = p.to_h.data();
  rq.zero_point = 0, rq.lo = -kHLimit, rq.hi = kHLimit;
  rq.rounding_offset = p.to_h_rounding_offset.empty() ? nullptr : p.to_h_rounding_offset.data();
  const int64_t c_count = p.channels, blocks = (c_count + kLanes - 1) / kLanes;
  // The channels' requantization lanes once, then the rows in memory order.
  auto* lanes = static_cast<RequantLanes*>(thread_scratch(0, blocks * static_cast<int64_t>(sizeof(RequantLanes))));
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int count = static_cast<int>(min64(kLanes, c_count - blk * kLanes));
    lanes[blk] = load_requant_lanes(p.to_h.data() + blk * kLanes, count, rq);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t c0 = blk * kLanes;
      const __mmask16 m = lane_mask(c_count - c0);
      const __m512i h = requantize_lanes(_mm512_maskz_loadu_epi32(m, acc + r * c_count + c0), lanes[blk]);
      const __m512i hc = _mm512_min_epi32(_mm512_max_epi32(h, lo), hi);
      // hc - origin < 2^32: unsigned difference, logical shift.
      const __m512i b = _mm512_srl_epi32(_mm512_sub_epi32(hc, lo), shift);
      if (packed != nullptr) {  // one gather: code, delta + 1 and the step's offset in the bucket
        store_codes_u8(out + r * c_count + c0, bucket_lookup(h, lut, m), m);
        continue;
      }
      const __m512i step = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, b, p.bucket_step.data(), 4);
      const __m512i code = gather_bytes(p.bucket_code.data(), buckets, b);
      const __m512i delta = _mm512_srai_epi32(_mm512_slli_epi32(gather_bytes(p.bucket_delta.data(), buckets, b), 24), 24);
      const __m512i result = _mm512_mask_add_epi32(code, _mm512_cmpge_epi32_mask(hc, step), code, delta);
      store_codes_u8(out + r * c_count + c0, result, m);
    }
  }
}

void residual_add_avx512(const ResidualAddParams& p, const uint8_t* a, const uint8_t* b, int64_t rows, uint8_t* out) {
  const int64_t c_count = p.channels;
  const __m512i zp_a = _mm512_set1_epi64(p.a_zero_point), zp_b = _mm512_set1_epi64(p.b_zero_point);
  const __m512i zp_out = _mm512_set1_epi64(p.out_zero_point);
  const __m512i lo = _mm512_set1_epi64(p.lo), hi = _mm512_set1_epi64(p.hi), one = _mm512_set1_epi64(1);
  struct Lanes {
    __m512i ma, mb, shift, rounding;
  };
  const int64_t blocks = (c_count + 7) / 8;
  auto* lanes = static_cast<Lanes*>(thread_scratch(0, blocks * static_cast<int64_t>(sizeof(Lanes))));
  for (int64_t blk = 0; blk < blocks; ++blk) {
    alignas(64) int64_t ma[8] = {}, mb[8] = {}, s[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (int64_t i = 0; i < 8 && blk * 8 + i < c_count; ++i) {
      const FixedMultiplier fa = p.a_multiplier[static_cast<size_t>(blk * 8 + i)];
      const FixedMultiplier fb = p.b_multiplier[static_cast<size_t>(blk * 8 + i)];
      assert(fa.exponent == fb.exponent && fa.valid());
      ma[i] = fa.mantissa_q31, mb[i] = fb.mantissa_q31, s[i] = fa.right_shift();
    }
    Lanes& l = lanes[blk];
    l.ma = _mm512_load_si512(ma), l.mb = _mm512_load_si512(mb), l.shift = _mm512_load_si512(s);
    l.rounding = _mm512_sllv_epi64(one, _mm512_sub_epi64(l.shift, one));
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const Lanes& l = lanes[blk];
      const int64_t at = r * c_count + blk * 8, count = min64(8, c_count - blk * 8);
      const auto m = static_cast<__mmask8>((1u << count) - 1);
      const __m512i va = _mm512_sub_epi64(_mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(m, a + at)), zp_a);
      const __m512i vb = _mm512_sub_epi64(_mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(m, b + at)), zp_b);
      const __m512i sum = _mm512_add_epi64(_mm512_mul_epi32(va, l.ma), _mm512_mul_epi32(vb, l.mb));
      __m512i v = _mm512_add_epi64(_mm512_srav_epi64(_mm512_add_epi64(sum, l.rounding), l.shift), zp_out);
      v = _mm512_min_epi64(_mm512_max_epi64(v, lo), hi);
      store_codes_u8_from_epi64(out + at, v, m);
    }
  }
}

}  // namespace fqvit::kernels
