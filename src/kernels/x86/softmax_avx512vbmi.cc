// Both integer softmax forms of attention_ref.cc without a gather or a division per element, 64 codes per zmm,
// bit-exact (AVX-512 VBMI: vpermb / vpermi2b; the caller checks cpu_has_avx512_vbmi()):
//   exp: exp_table (256 int32, indexed by d = max - code) lives as four byte planes; byte b of e = table[d] for 64
//        lanes is two vpermi2b (entries 0-127 and 128-255, chosen by bit 7 of d). The row sum adds the planes by
//        vpsadbw: sum = sum_b 2^(8 b) sum_s plane_b[d_s], exact in uint64 (< T 2^31).
//   Log-Int-Softmax: k = #{j <= 2^b : e <= th_j}, th_j = floor(2 sum / c_j) (softmax_avx512.cc). When the table is
//        non-increasing in d (prepare_softmax_avx512 checks it), e <= th_j exactly when d >= D_j, D_j = #{d : table[d]
//        > th_j} (the table's prefix above th_j, 0..256; D_j non-decreasing in j). Per row: the 16 D_j (a 4-step
//        search over every 16th entry for the block, then one 16-entry compare in that block); per 64 codes: a 5-step
//        search of d over the D_j by vpermb. D_j = 256 (no d passes) is stored as 255 and the count capped at the
//        number J of D_j <= 255, which undoes the one wrong pass (d = 255).
//   uniform: q = floor(N / den), N = e R + den / 2, den = sum 2^16, equals floor((floor(e R / 2^15) + sum) / (2 sum))
//        (N / den = (A + f) / (2 sum) with A = floor(e R / 2^15) + sum an integer and 0 <= f < 1). With M = min(A,
//        512 (2 sum)) < 2^49 (sum < 2^39 for T <= 256), q' = floor(M inv / 2^50), inv = floor(2^50 / (2 sum)), is q or
//        q - 1 (M inv / 2^50 > M / (2 sum) - M / 2^50 > M / (2 sum) - 1; M inv < 2^59, exact in vpmullq), and one
//        remainder compare fixes it. The quotient past 511 is 512, which clamps to hi like the exact one when zp >=
//        -256. e enters as dwords unpacked from the planes in a lane order that vpackusdw / vpackuswb undo.
// No std templates here (thread_scratch.h says why).
#include <cassert>
#include <cstddef>

#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/int_ops_x86.h"

namespace fqvit::kernels {
namespace {

constexpr int64_t kCodes = 64;  // codes per zmm
constexpr int kMaxLog2Codes = 16;
constexpr uint64_t kLisDivisor[kMaxLog2Codes] = {3,    5,    11,   23,    47,    95,    191,   383,
                                                  767,  1535, 3071, 6143,  12287, 24575, 49151, 98303};
constexpr int kReciprocalBits = 50;

__mmask64 code_mask(int64_t count) {
  return count >= kCodes ? ~__mmask64{0} : (count <= 0 ? __mmask64{0} : (__mmask64{1} << count) - 1);
}

// Byte b of table[d] on the lanes of `valid` (0 elsewhere); `high` = lanes with d >= 128.
__m512i plane_lookup(const uint8_t* plane, __m512i d, __mmask64 valid, __mmask64 high) {
  const __m512i lo = _mm512_maskz_permutex2var_epi8(valid & ~high, _mm512_load_si512(plane), d,
                                                    _mm512_load_si512(plane + 64));
  const __m512i hi = _mm512_maskz_permutex2var_epi8(valid & high, _mm512_load_si512(plane + 128), d,
                                                    _mm512_load_si512(plane + 192));
  return _mm512_or_si512(lo, hi);
}

uint8_t row_max(const uint8_t* logits, int64_t tokens) {
  __m512i m = _mm512_setzero_si512();
  for (int64_t s = 0; s < tokens; s += kCodes) m = _mm512_max_epu8(m, _mm512_maskz_loadu_epi8(code_mask(tokens - s), logits + s));
  __m256i m32 = _mm256_max_epu8(_mm512_castsi512_si256(m), _mm512_extracti64x4_epi64(m, 1));
  __m128i m16 = _mm_max_epu8(_mm256_castsi256_si128(m32), _mm256_extracti128_si256(m32, 1));
  m16 = _mm_max_epu8(m16, _mm_srli_si128(m16, 8));
  m16 = _mm_max_epu8(m16, _mm_srli_si128(m16, 4));
  m16 = _mm_max_epu8(m16, _mm_srli_si128(m16, 2));
  m16 = _mm_max_epu8(m16, _mm_srli_si128(m16, 1));
  return static_cast<uint8_t>(_mm_cvtsi128_si32(m16));
}

// Row sum of the exp values; with `e_out`, also stores each chunk's 64 e as dwords in unpack order (lanes 16 L + 4 z
// .. + 3 of 128-bit lane L in zmm z of the chunk).
uint64_t exp_sum(const SoftmaxLut& lut, const uint8_t* logits, int64_t tokens, __m512i max, int32_t* e_out) {
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  for (int64_t s = 0; s < tokens; s += kCodes) {
    const __mmask64 valid = code_mask(tokens - s);
    const __m512i d = _mm512_sub_epi8(max, _mm512_maskz_loadu_epi8(valid, logits + s));  // code <= max: no wrap
    const __mmask64 high = _mm512_movepi8_mask(d);
    __m512i bytes[4];
    for (int b = 0; b < 4; ++b) {
      bytes[b] = plane_lookup(lut.plane[b], d, valid, high);
      acc[b] = _mm512_add_epi64(acc[b], _mm512_sad_epu8(bytes[b], _mm512_setzero_si512()));
    }
    if (e_out != nullptr) {
      const __m512i lo01 = _mm512_unpacklo_epi8(bytes[0], bytes[1]), hi01 = _mm512_unpackhi_epi8(bytes[0], bytes[1]);
      const __m512i lo23 = _mm512_unpacklo_epi8(bytes[2], bytes[3]), hi23 = _mm512_unpackhi_epi8(bytes[2], bytes[3]);
      _mm512_store_si512(e_out + s, _mm512_unpacklo_epi16(lo01, lo23));
      _mm512_store_si512(e_out + s + 16, _mm512_unpackhi_epi16(lo01, lo23));
      _mm512_store_si512(e_out + s + 32, _mm512_unpacklo_epi16(hi01, hi23));
      _mm512_store_si512(e_out + s + 48, _mm512_unpackhi_epi16(hi01, hi23));
    }
  }
  const __m512i sum = _mm512_add_epi64(_mm512_add_epi64(acc[0], _mm512_slli_epi64(acc[1], 8)),
                                       _mm512_add_epi64(_mm512_slli_epi64(acc[2], 16), _mm512_slli_epi64(acc[3], 24)));
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(sum));
}

void log2_codes(const AttentionParams& p, const SoftmaxLut& lut, const uint8_t* logits, __m512i max, uint64_t sum,
                uint8_t* probs) {
  const int32_t* table = p.exp_table.data();
  const int zero_code = 1 << p.log2_bits;
  alignas(64) int32_t threshold[kMaxLog2Codes], block[kMaxLog2Codes];
#pragma GCC unroll 16
  for (int j = 0; j < kMaxLog2Codes; ++j) {
    const uint64_t t = 2 * sum / kLisDivisor[j];
    threshold[j] = t < INT32_MAX ? static_cast<int32_t>(t) : INT32_MAX;
  }
  // block[j]: the last i in [0, 15] with table[16 i] > th_j (0 when none): D_j lies in [16 i, 16 i + 16].
  const __m512i th = _mm512_load_si512(threshold), coarse = _mm512_load_si512(lut.coarse);
  __m512i b = _mm512_setzero_si512();
  for (int step = 8; step >= 1; step /= 2) {
    const __m512i at = _mm512_add_epi32(b, _mm512_set1_epi32(step));
    b = _mm512_mask_add_epi32(b, _mm512_cmpgt_epi32_mask(_mm512_permutexvar_epi32(at, coarse), th), b,
                              _mm512_set1_epi32(step));
  }
  _mm512_store_si512(block, b);
  alignas(64) uint8_t first_d[kCodes] = {};  // D_j for j = 1..J, then 255
  int passing = 0;                            // J
  for (int j = 0; j < zero_code; ++j) {
    const int32_t* entries = table + 16 * block[j];
    const int d = 16 * block[j] + __builtin_popcount(_mm512_cmpgt_epi32_mask(_mm512_loadu_si512(entries),
                                                                          _mm512_set1_epi32(threshold[j])));
    if (d > 255) break;  // so are all later D_j
    first_d[j] = static_cast<uint8_t>(d);
    passing = j + 1;
  }
  for (int j = passing; j < kMaxLog2Codes; ++j) first_d[j] = 255;
  const __m512i dt = _mm512_load_si512(first_d), cap = _mm512_set1_epi8(static_cast<char>(passing));
  for (int64_t s = 0; s < p.tokens; s += kCodes) {
    const __mmask64 valid = code_mask(p.tokens - s);
    const __m512i d = _mm512_sub_epi8(max, _mm512_maskz_loadu_epi8(valid, logits + s));
    __m512i k = _mm512_setzero_si512();  // D_1..D_k <= d so far; test D_(k + step) (byte k + step - 1)
    for (int step = 8; step >= 1; step /= 2) {
      const __m512i at = _mm512_add_epi8(k, _mm512_set1_epi8(static_cast<char>(step - 1)));
      k = _mm512_mask_add_epi8(k, _mm512_cmpge_epu8_mask(d, _mm512_permutexvar_epi8(at, dt)), k,
                               _mm512_set1_epi8(static_cast<char>(step)));
    }
    // k in [0, 15]: byte k fails already unless k = 15 (then it is D_16).
    k = _mm512_mask_add_epi8(k, _mm512_cmpge_epu8_mask(d, _mm512_permutexvar_epi8(k, dt)), k, _mm512_set1_epi8(1));
    _mm512_mask_storeu_epi8(probs + s, valid, _mm512_min_epu8(k, cap));
  }
}

// q = floor(M / (2 sum)) for the even dword lanes of e (see the top).
__m512i quotient(__m512i e, __m512i reciprocal, __m512i sum, __m512i two_sum, __m512i limit, __m512i inv) {
  const __m512i a = _mm512_min_epu64(_mm512_add_epi64(_mm512_srli_epi64(_mm512_mul_epu32(e, reciprocal), 15), sum), limit);
  __m512i q = _mm512_srli_epi64(_mm512_mullo_epi64(a, inv), kReciprocalBits);
  const __m512i r = _mm512_sub_epi64(a, _mm512_mullo_epi64(q, two_sum));
  return _mm512_mask_add_epi64(q, _mm512_cmpge_epu64_mask(r, two_sum), q, _mm512_set1_epi64(1));
}

void uniform_codes(const AttentionParams& p, const int32_t* e, uint64_t sum, uint8_t* probs) {
  const uint64_t two_sum = 2 * sum;
  const __m512i reciprocal = _mm512_set1_epi64(p.prob_reciprocal_q16), vsum = _mm512_set1_epi64(static_cast<int64_t>(sum));
  const __m512i vtwo_sum = _mm512_set1_epi64(static_cast<int64_t>(two_sum));
  const __m512i limit = _mm512_set1_epi64(static_cast<int64_t>(512 * two_sum));
  const __m512i inv = _mm512_set1_epi64(static_cast<int64_t>((uint64_t{1} << kReciprocalBits) / two_sum));
  const __m512i zp = _mm512_set1_epi32(p.prob_zero_point);
  const __m512i lo = _mm512_set1_epi32(p.prob_lo), hi = _mm512_set1_epi32(p.prob_hi);
  for (int64_t s = 0; s < p.tokens; s += kCodes) {
    __m512i code[4];
    for (int z = 0; z < 4; ++z) {
      const __m512i ez = _mm512_load_si512(e + s + 16 * z);
      const __m512i q_even = quotient(ez, reciprocal, vsum, vtwo_sum, limit, inv);
      const __m512i q_odd = quotient(_mm512_srli_epi64(ez, 32), reciprocal, vsum, vtwo_sum, limit, inv);
      const __m512i q = _mm512_or_si512(q_even, _mm512_slli_epi64(q_odd, 32));  // q <= 512
      code[z] = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zp), lo), hi);
    }
    const __m512i bytes = _mm512_packus_epi16(_mm512_packus_epi32(code[0], code[1]), _mm512_packus_epi32(code[2], code[3]));
    _mm512_mask_storeu_epi8(probs + s, code_mask(p.tokens - s), bytes);
  }
}

}  // namespace

bool softmax_vbmi_supports(const AttentionParams& p, const SoftmaxLut& lut) {
  if (p.softmax == SoftmaxKind::kLog2) return p.log2_bits <= 4 && lut.monotone;
  return p.tokens <= 256 && p.prob_zero_point >= -256 && p.prob_reciprocal_q16 >= 0 &&
         p.prob_reciprocal_q16 < (int64_t{1} << 31);
}

void prepare_softmax_avx512vbmi(const AttentionParams& p, SoftmaxLut& lut) {
  assert(p.exp_table.size() == 256);
  const int32_t* table = p.exp_table.data();
  for (int d = 0; d < 256; d += 16) {
    const __m512i e = _mm512_loadu_si512(table + d);
    for (int b = 0; b < 4; ++b) {
      _mm_store_si128(reinterpret_cast<__m128i*>(lut.plane[b] + d), _mm512_cvtepi32_epi8(_mm512_srli_epi32(e, 8 * b)));
    }
    lut.coarse[d / 16] = table[d];
  }
  bool monotone = table[255] >= 0;
  for (int d = 0; d < 255; ++d) monotone = monotone && table[d] >= table[d + 1];
  lut.monotone = monotone;
}

void softmax_row_avx512vbmi(const AttentionParams& p, const SoftmaxLut& lut, const uint8_t* logits, int32_t* e_scratch,
                            uint8_t* probs) {
  assert(softmax_vbmi_supports(p, lut));
  const __m512i max = _mm512_set1_epi8(static_cast<char>(row_max(logits, p.tokens)));
  if (p.softmax == SoftmaxKind::kLog2) {
    return log2_codes(p, lut, logits, max, exp_sum(lut, logits, p.tokens, max, nullptr), probs);
  }
  uniform_codes(p, e_scratch, exp_sum(lut, logits, p.tokens, max, e_scratch), probs);
}

}  // namespace fqvit::kernels
