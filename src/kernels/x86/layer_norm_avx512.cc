// Integer LayerNorm in AVX-512 (F, BW, VL, CD), fast form, bit-exact with layer_norm_ref.cc.
//
// The reference computes per row and channel floor(|A| 2^48) = floor(u inv / 2^j), u = C |mantissa| (< 2^43),
// j = 44 - exponent - k, then N = clamp(bits + 48 - bitlen(that), 0, 31), M = floor(|A| 2^N) and
// B = round(2^N (beta - mean term)), in int128. Here the row brings only inv, k and S1; what depends on the
// channel alone is prepared once per call; each int128 product becomes two exact 32 x 32 -> 64 multiplies
// (vpmuludq / vpmuldq), 8 channels a zmm.
//
// M and N. hi = floor(u inv / 2^32) = u_hi inv + floor(u_lo inv / 2^32) (u_hi inv < 2^42, u_lo inv < 2^63). As
// inv is in (2^30, 2^31], u inv is in (2^(b+29), 2^(b+31)) for b = bitlen(u): bitlen(hi) = b - 2 or b - 1, known
// from lz = lzcnt(hi), and
//   N = min(bits - 4 - exponent - k + lz, 31)        (the reference's N; >= 1 is a row check below)
//   J = j + 48 - N, M = floor(u inv / 2^J) = hi >> (J - 32)      (J - 32 = j + 16 - N >= 0, row check)
// Unclamped, J - 32 = 64 - bits - lz >= 1: M holds exactly `bits` bits; clamped (N = 31), fewer. So M <= 2^bits - 1
// (the reference's min never bites), and floor(|A| 2^48), of bit length b + 30 - j or more, is > 0 (row check: the
// reference's zero case never comes).
//
// B. The reference's v = beta 2^16 - floor(sX / 2^j) (sX = mantissa S1 inv, signed), B = floor((v + 2^(47-N)) /
// 2^(48-N)). With -floor(a / 2^j) = floor((2^j - 1 - a) / 2^j) and nested floors merged:
//   B = floor((beta + 2^(31-N) + G) / 2^(32-N)),   G = floor((2^j - 1 - sX) / 2^(j+16)).
// W = S1 inv = W_h 2^s + W_l (|W| < 2^54; 0 <= W_l < 2^s, s = min(31, 16 + min over channels of j) >= 16, and
// |W_h| < 2^31: row check), so sX = P_h 2^s + P_l with P_l = mantissa W_l (|P_l| < 2^62), P_h = mantissa W_h
// (|P_h| < 2^62), and
//   G = floor((floor((2^j - 1 - P_l) / 2^s) - P_h) / 2^(j+16-s))      (|2^j - 1 - P_l| < 2^63 for j <= 61)
// |floor(...) - P_h| < 2^32 + 2^62, |beta| < 2^61 (call check): beta + G < 2^63, |B| < 2^62 (32 - N >= 1), so the
// reference's clamp of B at 2^62 never bites and t below fits int64.
//
// Output: t = M (sign x) + B (|M x| < 2^35), y = round_half_even(t / 2^N) = (t + 2^(N-1) - 1 + ((t >> N) & 1)) >> N
// for N >= 1, then clamp(zp_out + y, lo, hi).
//
// Checked once per call (else the whole call takes the general form, layer_norm_split_avx512.cc): u >= 2^(bits+2)
// on every channel with gamma != 0 (so J - 32 >= 1 unclamped), exponent >= -20 (2^(44-exponent) - 1 fits 64 bits),
// |beta_q32| < 2^61. Gamma = 0 channels get zero_variance_code, as in the reference. Checked per row from k, S1 inv
// (else that row takes the general form): 0 <= j <= 61, unclamped N >= 1, floor(|A| 2^48) > 0, j >= 15 if some N
// may clamp at 31, |W_h| < 2^31. D <= 0 rows output zero_variance_code.
//
// The rows' integer square roots run 16 at a time, one per int64 lane (the reference's digit-by-digit isqrt,
// branch-free): as a scalar loop with a data-dependent branch it cost about a third of the whole kernel.
// No std templates here (thread_scratch.h says why).
#include <cassert>
#include <cstddef>
#include <cstring>

#include "kernels/thread_scratch.h"
#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"
#include "kernels/x86/requant_avx512.h"

namespace fqvit::kernels {
namespace {

constexpr int kRowGroup = 16;  // rows whose square roots run together (two zmm)
// thread_scratch slots 6 and 7: the general form, called from here for refused rows, uses 0..5.
constexpr int kConstantsSlot = 6, kRowsSlot = 7;
constexpr int64_t kBetaLimit = int64_t{1} << 61;

// Per-call channel constants, int64 lanes padded to a multiple of 16 channels.
struct FastChannels {
  int64_t* u_hi;        // u >> 32, u = C |mantissa|
  int64_t* u_lo;        // u mod 2^32
  int64_t* mantissa;    // signed gamma mantissa
  int64_t* n_base;      // bits - 4 - exponent: N = n_base - k + lzcnt(hi)
  int64_t* j_mask;      // 2^(44 - exponent) - 1: 2^j - 1 = j_mask >> k
  int64_t* j_plus_16;   // 44 - exponent + 16: j + 16 = j_plus_16 - k
  int64_t* beta;        // beta_q32
};

struct CallBounds {
  bool fast = true;
  int64_t jb_min = 1 << 20, jb_max = -(1 << 20);  // j + k = 44 - exponent
  int64_t nfix_min = 1 << 20, nfix_max = -(1 << 20);  // unclamped N + k: nfix or nfix + 1 (bits + 61 - exponent - b)
  int64_t bj_min = 1 << 20;    // b - (j + k): bitlen(floor(A 2^48)) - k is b - j - k + 30 or + 31
  int64_t zero_gamma = 0;      // channels with gamma = 0 (output: zero_variance_code), listed in zero_gamma_at
};

static_assert(sizeof(FixedMultiplier) == 8 && offsetof(FixedMultiplier, exponent) == 4,
              "prepare() reads a FixedMultiplier as one int64: mantissa in the low half, exponent in the high");

// The channel constants and the call's bounds, 8 channels a zmm.
CallBounds prepare(const LayerNormParams& p, int64_t padded, FastChannels& fc, uint16_t* negative16,
                   int32_t* zero_gamma_at) {
  CallBounds cb;
  const int64_t c_count = p.channels, bits = p.multiplier_bits;
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1), c64 = _mm512_set1_epi64(c_count);
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF), k44 = _mm512_set1_epi64(44), k64 = _mm512_set1_epi64(64);
  const __m512i u_min = _mm512_set1_epi64(int64_t{1} << (bits + 2)), beta_limit = _mm512_set1_epi64(kBetaLimit);
  const __m512i n_offset = _mm512_set1_epi64(bits - 4), nfix_offset = _mm512_set1_epi64(bits + 61);
  const __m512i big = _mm512_set1_epi64(1 << 20), small = _mm512_set1_epi64(-(1 << 20));
  __m512i jb_min = big, jb_max = small, nfix_min = big, nfix_max = small, bj_min = big;
  __mmask8 refused = 0;
  for (int64_t c = 0; c < padded; c += 8) {
    const __mmask8 lanes = static_cast<__mmask8>(c >= c_count ? 0 : (c_count - c >= 8 ? 0xFF : (1u << (c_count - c)) - 1));
    const __m512i g = _mm512_maskz_loadu_epi64(lanes, p.gamma.data() + c);
    const __m512i mant = _mm512_srai_epi64(_mm512_slli_epi64(g, 32), 32), exponent = _mm512_srai_epi64(g, 32);
    const __m512i mant_abs = _mm512_abs_epi64(mant);  // <= 2^31
    const __mmask8 live = _mm512_mask_cmpneq_epi64_mask(lanes, mant_abs, zero);
    for (unsigned zeros = lanes & ~live; zeros != 0; zeros &= zeros - 1) {  // gamma = 0: all-zero lanes
      zero_gamma_at[cb.zero_gamma++] = static_cast<int32_t>(c + __builtin_ctz(zeros));
    }
    const __m512i u = _mm512_mul_epu32(mant_abs, c64);  // < 2^43
    const __m512i jb = _mm512_sub_epi64(k44, exponent);
    const __m512i beta = _mm512_maskz_loadu_epi64(live, p.beta_q32.data() + c);
    refused = static_cast<__mmask8>(refused | _mm512_mask_cmplt_epu64_mask(live, u, u_min) |
                                    _mm512_mask_cmpgt_epi64_mask(live, jb, k64) |
                                    _mm512_mask_cmpge_epu64_mask(live, _mm512_abs_epi64(beta), beta_limit));
    _mm512_storeu_si512(fc.u_hi + c, _mm512_maskz_srli_epi64(live, u, 32));
    _mm512_storeu_si512(fc.u_lo + c, _mm512_maskz_and_epi64(live, u, low32));
    _mm512_storeu_si512(fc.mantissa + c, _mm512_maskz_mov_epi64(live, mant));
    _mm512_storeu_si512(fc.n_base + c, _mm512_maskz_sub_epi64(live, n_offset, exponent));
    // 2^jb - 1: sllv gives 0 for jb = 64, and 0 - 1 is 2^64 - 1.
    _mm512_storeu_si512(fc.j_mask + c, _mm512_maskz_sub_epi64(live, _mm512_sllv_epi64(one, jb), one));
    _mm512_storeu_si512(fc.j_plus_16 + c, _mm512_maskz_add_epi64(live, jb, _mm512_set1_epi64(16)));
    _mm512_storeu_si512(fc.beta + c, beta);
    const __m512i b = _mm512_sub_epi64(k64, _mm512_lzcnt_epi64(u));  // bitlen(u)
    const __m512i nfix = _mm512_sub_epi64(_mm512_sub_epi64(nfix_offset, exponent), b);
    jb_min = _mm512_mask_min_epi64(jb_min, live, jb_min, jb);
    jb_max = _mm512_mask_max_epi64(jb_max, live, jb_max, jb);
    nfix_min = _mm512_mask_min_epi64(nfix_min, live, nfix_min, nfix);
    nfix_max = _mm512_mask_max_epi64(nfix_max, live, nfix_max, nfix);
    bj_min = _mm512_mask_min_epi64(bj_min, live, bj_min, _mm512_sub_epi64(b, jb));
    const auto negative = static_cast<uint16_t>(_mm512_mask_cmplt_epi64_mask(live, mant, zero));
    negative16[c / 16] = static_cast<uint16_t>((c % 16 == 0 ? 0 : negative16[c / 16]) | (negative << (c % 16)));
  }
  cb.fast = refused == 0;
  cb.jb_min = _mm512_reduce_min_epi64(jb_min), cb.jb_max = _mm512_reduce_max_epi64(jb_max);
  cb.nfix_min = _mm512_reduce_min_epi64(nfix_min), cb.nfix_max = _mm512_reduce_max_epi64(nfix_max);
  cb.bj_min = _mm512_reduce_min_epi64(bj_min);
  return cb;
}

// The row's terms, and whether they allow the fast form on every channel (the bounds in the file comment).
struct RowTerms {
  int64_t k, inv, w;  // w = S1 inv
  int64_t split;      // s
};
bool row_fits(const CallBounds& cb, RowTerms& t) {
  const int64_t j_min = cb.jb_min - t.k, j_max = cb.jb_max - t.k;
  t.split = j_min + 16 < 31 ? j_min + 16 : 31;
  const int64_t w_hi = t.w >> t.split;  // t.split >= 16 below
  return j_min >= 0 && j_max <= 61 && cb.nfix_min - t.k >= 1 && cb.bj_min + t.k + 30 >= 1 &&
         (cb.nfix_max - t.k + 1 <= 31 || j_min >= 15) && w_hi >= INT32_MIN && w_hi <= INT32_MAX;
}

}  // namespace

// floor(sqrt(v)) per lane for v in [2^60, 2^62), two zmm at once (two independent chains hide each other's
// latency): isqrt_u64's digit-by-digit loop, its branch as masks.
static void isqrt_2_60_x2_epi64(__m512i& v0, __m512i& v1) {
  __m512i root0 = _mm512_setzero_si512(), root1 = root0;
  __m512i bit = _mm512_set1_epi64(int64_t{1} << 60);  // the largest power of 4 <= v
  for (int i = 0; i < 31; ++i) {
    const __m512i trial0 = _mm512_add_epi64(root0, bit), trial1 = _mm512_add_epi64(root1, bit);
    const __mmask8 ge0 = _mm512_cmpge_epu64_mask(v0, trial0), ge1 = _mm512_cmpge_epu64_mask(v1, trial1);
    v0 = _mm512_mask_sub_epi64(v0, ge0, v0, trial0);
    v1 = _mm512_mask_sub_epi64(v1, ge1, v1, trial1);
    root0 = _mm512_mask_add_epi64(_mm512_srli_epi64(root0, 1), ge0, _mm512_srli_epi64(root0, 1), bit);
    root1 = _mm512_mask_add_epi64(_mm512_srli_epi64(root1, 1), ge1, _mm512_srli_epi64(root1, 1), bit);
    bit = _mm512_srli_epi64(bit, 2);
  }
  v0 = root0, v1 = root1;
}

void isqrt_2_60_x16_avx512(const uint64_t* v, uint64_t* root) {
  __m512i v0 = _mm512_loadu_si512(v), v1 = _mm512_loadu_si512(v + 8);
  isqrt_2_60_x2_epi64(v0, v1);
  _mm512_storeu_si512(root, v0);
  _mm512_storeu_si512(root + 8, v1);
}

namespace {

// x = sign(gamma) (q - zp) << shift into xs (int32, padded with zeros), S1 and S2 of the unsigned x.
void row_sums(const LayerNormParams& p, const uint8_t* qr, const uint16_t* negative16, int32_t* xs, int64_t& s1,
              int64_t& s2) {
  const int64_t c_count = p.channels;
  const __m512i zp_in = _mm512_set1_epi32(p.in_zero_point), zero = _mm512_setzero_si512();
  __m512i s1v = zero, s2v = zero;  // per lane at most 256 terms: |x| <= 2040, x^2 < 2^22, sums < 2^30
  for (int64_t c = 0; c < c_count; c += 16) {
    const __mmask16 m = static_cast<__mmask16>(c_count - c >= 16 ? 0xFFFF : (1u << (c_count - c)) - 1);
    const __m512i codes = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, qr + c));
    const __m512i shift = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p.in_shift.data() + c));
    const __m512i x = _mm512_maskz_sllv_epi32(m, _mm512_sub_epi32(codes, zp_in), shift);
    _mm512_storeu_si512(xs + c, _mm512_mask_sub_epi32(x, negative16[c / 16], zero, x));
    s1v = _mm512_add_epi32(s1v, x);
    s2v = _mm512_add_epi32(s2v, _mm512_mullo_epi32(x, x));
  }
  auto widen_sum = [](__m512i v) {
    return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                                                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1))));
  };
  s1 = widen_sum(s1v);
  s2 = widen_sum(s2v);
}

// One row in the fast form: M, N, B per channel from inv, k, S1 and the call's constants, then the codes.
void fast_row(const LayerNormParams& p, const FastChannels& fc, const int32_t* xs, const RowTerms& rt, uint8_t* yr) {
  const int64_t c_count = p.channels;
  const __m512i vinv = _mm512_set1_epi64(rt.inv), vk = _mm512_set1_epi64(rt.k), split = _mm512_set1_epi64(rt.split);
  const __m512i w_hi = _mm512_set1_epi64(rt.w >> rt.split);
  const __m512i w_lo = _mm512_set1_epi64(rt.w & ((int64_t{1} << rt.split) - 1));
  const __m512i one = _mm512_set1_epi64(1), k64 = _mm512_set1_epi64(64);
  const __m512i n_max = _mm512_set1_epi64(31);
  const __m512i half_ones = _mm512_set1_epi64(INT64_MAX);                // 2^(N-1) - 1 = (2^63 - 1) >> (64 - N)
  const __m512i zp_out = _mm512_set1_epi64(p.out_zero_point);
  const __m512i lo = _mm512_set1_epi64(p.lo), hi = _mm512_set1_epi64(p.hi);
  for (int64_t c = 0; c < c_count; c += 8) {
    const __mmask8 lanes = static_cast<__mmask8>(c_count - c >= 8 ? 0xFF : (1u << (c_count - c)) - 1);
    // hi = floor(u inv / 2^32): u_hi inv < 2^42, u_lo inv < 2^63.
    const __m512i hi_part = _mm512_add_epi64(_mm512_mul_epu32(_mm512_loadu_si512(fc.u_hi + c), vinv),
                                             _mm512_srli_epi64(_mm512_mul_epu32(_mm512_loadu_si512(fc.u_lo + c), vinv), 32));
    const __m512i lz = _mm512_lzcnt_epi64(hi_part);
    const __m512i n = _mm512_min_epi64(_mm512_add_epi64(_mm512_sub_epi64(_mm512_loadu_si512(fc.n_base + c), vk), lz),
                                       n_max);
    const __m512i j_plus_16 = _mm512_sub_epi64(_mm512_loadu_si512(fc.j_plus_16 + c), vk);
    const __m512i m = _mm512_srlv_epi64(hi_part, _mm512_sub_epi64(j_plus_16, n));  // J - 32 = j + 16 - N >= 0
    // G = floor((floor((2^j - 1 - P_l) / 2^s) - P_h) / 2^(j+16-s)); B = floor((beta + G + 2^(31-N)) / 2^(32-N)).
    const __m512i mant = _mm512_loadu_si512(fc.mantissa + c);
    const __m512i p_lo = _mm512_mul_epi32(mant, w_lo), p_hi = _mm512_mul_epi32(mant, w_hi);
    const __m512i pow_minus_1 = _mm512_srlv_epi64(_mm512_loadu_si512(fc.j_mask + c), vk);
    const __m512i low = _mm512_srav_epi64(_mm512_sub_epi64(pow_minus_1, p_lo), split);
    const __m512i g = _mm512_srav_epi64(_mm512_sub_epi64(low, p_hi), _mm512_sub_epi64(j_plus_16, split));
    const __m512i r = _mm512_add_epi64(_mm512_loadu_si512(fc.beta + c), g);
    const __m512i b = _mm512_srai_epi64(_mm512_add_epi64(_mm512_srav_epi64(r, _mm512_sub_epi64(n_max, n)), one), 1);
    // t = M (sign x) + B, rounded half to even by 2^N.
    const __m512i x = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + c)));
    const __m512i t = _mm512_add_epi64(_mm512_mul_epi32(m, x), b);
    const __m512i half_minus_1 = _mm512_srlv_epi64(half_ones, _mm512_sub_epi64(k64, n));
    const __m512i odd = _mm512_and_si512(_mm512_srav_epi64(t, n), one);
    const __m512i y = _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(t, half_minus_1), odd), n);
    const __m512i code = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(y, zp_out), lo), hi);
    store_codes_u8_from_epi64(yr + c, code, lanes);
  }
}

}  // namespace

void layer_norm_avx512(const LayerNormParams& p, const uint8_t* q, int64_t rows, uint8_t* out, int64_t* fast_rows) {
  const int64_t c_count = p.channels;
  assert(c_count > 0 && c_count <= 4096);
  const int64_t padded = (c_count + 15) / 16 * 16;
  auto* constants = static_cast<int64_t*>(thread_scratch(kConstantsSlot, (7 * padded + padded / 8 + padded / 2) * 8));
  FastChannels fc{constants,           constants + padded,     constants + 2 * padded, constants + 3 * padded,
                  constants + 4 * padded, constants + 5 * padded, constants + 6 * padded};
  auto* negative16 = reinterpret_cast<uint16_t*>(constants + 7 * padded);
  auto* zero_gamma_at = reinterpret_cast<int32_t*>(constants + 7 * padded + padded / 8);
  const CallBounds cb = prepare(p, padded, fc, negative16, zero_gamma_at);
  if (fast_rows != nullptr) *fast_rows = 0;
  if (!cb.fast) return layer_norm_split_avx512(p, q, rows, out);

  auto* xs = static_cast<int32_t*>(thread_scratch(kRowsSlot, kRowGroup * padded * 4));
  alignas(64) int64_t s1[kRowGroup], k[kRowGroup], root[kRowGroup], d[kRowGroup], inv[kRowGroup];
  for (int64_t r0 = 0; r0 < rows; r0 += kRowGroup) {
    const int64_t group = rows - r0 < kRowGroup ? rows - r0 : kRowGroup;
    for (int64_t g = 0; g < kRowGroup; ++g) {
      if (g >= group) {
        d[g] = 1;  // unused lane
        continue;
      }
      int64_t s2 = 0;
      row_sums(p, q + (r0 + g) * c_count, negative16, xs + g * padded, s1[g], s2);
      d[g] = c_count * s2 - s1[g] * s1[g] + p.variance_epsilon;  // >= 0, < 2^47
    }
    // k = (62 - bitlen(D)) / 2 = (lzcnt(D) - 2) / 2 and root = isqrt(D 4^k), as the reference (D <= 0: lane unused).
    const __m512i d0 = _mm512_max_epi64(_mm512_load_si512(d), _mm512_set1_epi64(1));
    const __m512i d1 = _mm512_max_epi64(_mm512_load_si512(d + 8), _mm512_set1_epi64(1));
    const __m512i k0 = _mm512_srli_epi64(_mm512_sub_epi64(_mm512_lzcnt_epi64(d0), _mm512_set1_epi64(2)), 1);
    const __m512i k1 = _mm512_srli_epi64(_mm512_sub_epi64(_mm512_lzcnt_epi64(d1), _mm512_set1_epi64(2)), 1);
    _mm512_store_si512(k, k0);
    _mm512_store_si512(k + 8, k1);
    __m512i v0 = _mm512_sllv_epi64(d0, _mm512_add_epi64(k0, k0)), v1 = _mm512_sllv_epi64(d1, _mm512_add_epi64(k1, k1));
    isqrt_2_60_x2_epi64(v0, v1);
    _mm512_store_si512(root, v0);
    _mm512_store_si512(root + 8, v1);
    // inv = floor(2^61 / root) in (2^30, 2^31] (root in [2^30, 2^31)): the rows' divisions back to back, in flight
    // together.
    for (int64_t g = 0; g < group; ++g) inv[g] = (int64_t{1} << 61) / root[g];
    for (int64_t g = 0; g < group; ++g) {
      const uint8_t* qr = q + (r0 + g) * c_count;
      uint8_t* yr = out + (r0 + g) * c_count;
      if (d[g] <= 0) {
        for (int64_t c = 0; c < c_count; ++c) yr[c] = p.zero_variance_code[static_cast<size_t>(c)];
        continue;
      }
      RowTerms rt{k[g], inv[g], s1[g] * inv[g], 0};  // |S1 inv| < 2^23 2^31
      if (!row_fits(cb, rt)) {
        layer_norm_split_avx512(p, qr, 1, yr);
      } else {
        fast_row(p, fc, xs + g * padded, rt, yr);
        if (fast_rows != nullptr) ++*fast_rows;
        for (int64_t z = 0; z < cb.zero_gamma; ++z) {
          yr[zero_gamma_at[z]] = p.zero_variance_code[static_cast<size_t>(zero_gamma_at[z])];
        }
      }
    }
  }
}

}  // namespace fqvit::kernels
