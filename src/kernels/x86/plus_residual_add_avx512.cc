// The residual add with per-channel zero points (int_ops_plus.h residual_add_channel_ref) in AVX-512 (F, BW, VL),
// 16 channels per step, bit-exact with the reference:
//   (a - zp_a[c]) and (b - zp_b[c]) as int32 lanes (|.| < 2^16), the products with the mantissas in int64 lanes by
//   vpmuldq on the even and the odd channels (each product < 2^47, the sum < 2^48, exact), + 2^(s - 1) and the
//   arithmetic shift by s = 31 - exponent (per channel: vpsravq), as the reference's half-up rounding. The int64
//   value is clamped to +-2^30 before it is narrowed; zp_out[c] and the clamp to [lo, hi] follow in int32, which
//   gives the reference's clamp(zp_out + v, lo, hi) exactly while |zp_out[c]| < 2^29 and 0 <= lo <= hi <= 65535
//   (else the reference kernel runs).
// No std templates here (thread_scratch.h says why).
#include <cassert>
#include <cstddef>

#include "kernels/thread_scratch.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/plus_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kLanes = 16;
constexpr int32_t kZeroPointLimit = int32_t{1} << 29;
constexpr int64_t kWideLimit = int64_t{1} << 30;

struct AddLanes {
  __m512i zp_a, zp_b, zp_out;                  // int32 lanes, channel order
  __m512i ma_even, ma_odd, mb_even, mb_odd;    // mantissas in the low dword of each qword
  __m512i shift_even, shift_odd, round_even, round_odd;  // int64 lanes
};

bool fits_fast_form(const ResidualAddChannelParams& p) {
  if (p.lo < 0 || p.lo > p.hi || p.hi > 65535) return false;
  for (int64_t c = 0; c < p.channels; ++c) {
    const int32_t z = p.out_zero_point[static_cast<size_t>(c)];
    if (z <= -kZeroPointLimit || z >= kZeroPointLimit) return false;
  }
  return true;
}

// The channels' constants, once per call (thread_scratch slot 0).
const AddLanes* add_lanes(const ResidualAddChannelParams& p) {
  const int64_t blocks = (p.channels + kLanes - 1) / kLanes;
  auto* lanes = static_cast<AddLanes*>(thread_scratch(0, blocks * static_cast<int64_t>(sizeof(AddLanes))));
  const __m512i one = _mm512_set1_epi64(1);
  for (int64_t blk = 0; blk < blocks; ++blk) {
    alignas(64) int32_t za[kLanes] = {}, zb[kLanes] = {}, zo[kLanes] = {}, ma[kLanes] = {}, mb[kLanes] = {};
    alignas(64) int32_t s[kLanes] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int64_t i = 0; i < kLanes && blk * kLanes + i < p.channels; ++i) {
      const auto c = static_cast<size_t>(blk * kLanes + i);
      assert(p.a_multiplier[c].exponent == p.b_multiplier[c].exponent && p.a_multiplier[c].valid());
      za[i] = p.a_zero_point[c], zb[i] = p.b_zero_point[c], zo[i] = p.out_zero_point[c];
      ma[i] = p.a_multiplier[c].mantissa_q31, mb[i] = p.b_multiplier[c].mantissa_q31;
      s[i] = p.a_multiplier[c].right_shift();
    }
    AddLanes& l = lanes[blk];
    l.zp_a = _mm512_load_si512(za), l.zp_b = _mm512_load_si512(zb), l.zp_out = _mm512_load_si512(zo);
    const __m512i vma = _mm512_load_si512(ma), vmb = _mm512_load_si512(mb), vs = _mm512_load_si512(s);
    l.ma_even = vma, l.ma_odd = _mm512_srli_epi64(vma, 32);
    l.mb_even = vmb, l.mb_odd = _mm512_srli_epi64(vmb, 32);
    l.shift_even = _mm512_and_si512(vs, _mm512_set1_epi64(0xFFFFFFFF));  // s in 1..62: positive dwords
    l.shift_odd = _mm512_srli_epi64(vs, 32);
    l.round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(l.shift_even, one));
    l.round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(l.shift_odd, one));
  }
  return lanes;
}

__m512i load_codes(const uint8_t* p, __mmask16 m) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)); }
__m512i load_codes(const uint16_t* p, __mmask16 m) { return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)); }

void store(uint8_t* out, __m512i codes, __mmask16 m) { store_codes_u8(out, codes, m); }
void store(uint16_t* out, __m512i codes, __mmask16 m) {
  const __m256i words = _mm512_cvtepi32_epi16(codes);
  if (m == 0xFFFF) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), words);
  } else {
    _mm256_mask_storeu_epi16(out, m, words);
  }
}

template <typename A, typename Out>
void add_rows(const ResidualAddChannelParams& p, const A* a, const uint8_t* b, int64_t rows, Out* out) {
  if (!fits_fast_form(p)) return residual_add_channel_ref(p, a, b, rows, out);
  const int64_t c_count = p.channels, blocks = (c_count + kLanes - 1) / kLanes;
  const AddLanes* lanes = add_lanes(p);
  const __m512i wide_lo = _mm512_set1_epi64(-kWideLimit), wide_hi = _mm512_set1_epi64(kWideLimit);
  const __m512i lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const AddLanes& l = lanes[blk];
      const int64_t at = r * c_count + blk * kLanes;
      const __mmask16 m = lane_mask(c_count - blk * kLanes);
      const __m512i va = _mm512_sub_epi32(load_codes(a + at, m), l.zp_a);
      const __m512i vb = _mm512_sub_epi32(load_codes(b + at, m), l.zp_b);
      __m512i even = _mm512_add_epi64(_mm512_mul_epi32(va, l.ma_even), _mm512_mul_epi32(vb, l.mb_even));
      __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(va, 32), l.ma_odd),
                                     _mm512_mul_epi32(_mm512_srli_epi64(vb, 32), l.mb_odd));
      even = _mm512_srav_epi64(_mm512_add_epi64(even, l.round_even), l.shift_even);
      odd = _mm512_srav_epi64(_mm512_add_epi64(odd, l.round_odd), l.shift_odd);
      even = _mm512_min_epi64(_mm512_max_epi64(even, wide_lo), wide_hi);
      odd = _mm512_min_epi64(_mm512_max_epi64(odd, wide_lo), wide_hi);
      const __m512i v = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
      store(out + at, _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, l.zp_out), lo), hi), m);
    }
  }
}

}  // namespace

void residual_add_channel_avx512(const ResidualAddChannelParams& p, const uint8_t* a, const uint8_t* b, int64_t rows,
                                 uint8_t* out) {
  add_rows(p, a, b, rows, out);
}
void residual_add_channel_avx512(const ResidualAddChannelParams& p, const uint8_t* a, const uint8_t* b, int64_t rows,
                                 uint16_t* out) {
  add_rows(p, a, b, rows, out);
}
void residual_add_channel_avx512(const ResidualAddChannelParams& p, const uint16_t* a, const uint8_t* b, int64_t rows,
                                 uint16_t* out) {
  add_rows(p, a, b, rows, out);
}

}  // namespace fqvit::kernels
