// Both integer softmax forms of attention_ref.cc without a gather or a division per element, 64 codes per zmm,
// bit-exact (AVX-512 VBMI: vpermb / vpermi2b, and IFMA: vpmadd52huq; the caller checks cpu_has_avx512_vbmi()):
//   exp: exp_table (256 int32, indexed by d = max - code) lives as four byte planes; byte b of e = table[d] for 64
//        lanes is two vpermi2b (entries 0-127 and 128-255, chosen by bit 7 of d). The row sum adds the planes by
//        vpsadbw: sum = sum_b 2^(8 b) sum_s plane_b[d_s], exact in uint64 (< T 2^31).
//   Log-Int-Softmax: k = #{j <= 2^b : e <= th_j}, th_j = floor(2 sum / c_j) (softmax_avx512.cc). When the table is
//        non-increasing in d (prepare_softmax_avx512vbmi checks it), e <= th_j exactly when d >= D_j, D_j = #{d : table[d]
//        > th_j} (the table's prefix above th_j, 0..256; D_j non-decreasing in j). Per row: the 16 D_j in the 16 lanes
//        of one zmm (log2_plan); per 64 codes: a 5-step search of d over the D_j by vpermb. D_j = 256 (no d passes) is stored as 255 and the count capped at the
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

__extension__ typedef unsigned __int128 uint128;

// ceil(2^(52 + L) / c) and L = floor(log2 c) for each LIS divisor c (log2_plan).
struct LisReciprocals {
  uint64_t multiplier[kMaxLog2Codes], shift[kMaxLog2Codes];
  constexpr LisReciprocals() : multiplier{}, shift{} {
    for (int j = 0; j < kMaxLog2Codes; ++j) {
      const uint64_t c = kLisDivisor[j];
      shift[j] = static_cast<uint64_t>(63 - __builtin_clzll(c));
      const uint128 scale = uint128{1} << (52 + shift[j]);
      multiplier[j] = static_cast<uint64_t>((scale + c - 1) / c);
    }
  }
};
constexpr LisReciprocals kLisReciprocal;
static_assert(kLisReciprocal.multiplier[0] < (uint64_t{1} << 52) && kLisReciprocal.multiplier[15] < (uint64_t{1} << 52),
              "vpmadd52huq reads 52 bits");

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

// The search table of one row: bytes 0..15 of dt hold min(D_j, 255) (j = 1..16; 255 past 2^b), cap = J.
struct Log2Plan {
  __m512i dt, cap;
};

// All 16 D_j at once, one per int32 lane j: the block of D_j (the last i with table[16 i] > th_j) by a 4-step
// search of every 16th entry (vpermd), then D_j = 16 block + #{x : table[16 block + x] > th_j}, each x one vpermd
// of the transposed table (lane j picks its block's entry x).
Log2Plan log2_plan(const AttentionParams& p, const SoftmaxLut& lut, uint64_t sum) {
  // th_j = min(floor(2 sum / c_j), 2^31 - 1), 8 per zmm: floor(N / c) = floor(N ceil(2^(52 + L) / c) / 2^(52 + L))
  // (L = floor(log2 c), so the multiplier is below 2^52: c is never a power of two) for every N < 2^51, and
  // vpmadd52huq gives bits 52..103 of the 52 x 52-bit product exactly; N = 2 sum < 2^51 for T < 2^19.
  const __m512i n = _mm512_set1_epi64(static_cast<int64_t>(2 * sum)), cap = _mm512_set1_epi64(INT32_MAX);
  __m256i half[2];
  for (int h = 0; h < 2; ++h) {
    const __m512i q = _mm512_madd52hi_epu64(_mm512_setzero_si512(), n, _mm512_loadu_si512(kLisReciprocal.multiplier + 8 * h));
    half[h] = _mm512_cvtepi64_epi32(_mm512_min_epu64(_mm512_srlv_epi64(q, _mm512_loadu_si512(kLisReciprocal.shift + 8 * h)), cap));
  }
  const __m512i th = _mm512_inserti64x4(_mm512_castsi256_si512(half[0]), half[1], 1);
  const __m512i coarse = _mm512_load_si512(lut.coarse);
  __m512i block = _mm512_setzero_si512();
  for (int step = 8; step >= 1; step /= 2) {
    const __m512i at = _mm512_add_epi32(block, _mm512_set1_epi32(step));
    block = _mm512_mask_add_epi32(block, _mm512_cmpgt_epi32_mask(_mm512_permutexvar_epi32(at, coarse), th), block,
                                  _mm512_set1_epi32(step));
  }
  __m512i above[2] = {_mm512_slli_epi32(block, 4), _mm512_setzero_si512()};  // two chains of the count
  for (int x = 0; x < 16; ++x) {
    const __mmask16 m = _mm512_cmpgt_epi32_mask(_mm512_permutexvar_epi32(block, _mm512_load_si512(lut.transposed[x])), th);
    above[x % 2] = _mm512_mask_sub_epi32(above[x % 2], m, above[x % 2], _mm512_set1_epi32(-1));
  }
  const __mmask16 live = static_cast<__mmask16>((1u << (1 << p.log2_bits)) - 1);  // j <= 2^b
  const __m512i d = _mm512_mask_mov_epi32(_mm512_set1_epi32(256), live, _mm512_add_epi32(above[0], above[1]));
  Log2Plan plan;
  plan.dt = _mm512_castsi128_si512(_mm512_cvtusepi32_epi8(d));  // 256 saturates to 255
  plan.cap = _mm512_set1_epi8(static_cast<char>(__builtin_popcount(_mm512_cmple_epi32_mask(d, _mm512_set1_epi32(255)))));
  return plan;
}

// Where the codes of a row go: CodeSink stores them; WeightSink turns them into the int16 weights attn x V reads.
struct CodeSink {
  uint8_t* probs;
  void put(int64_t s, __m512i codes, __mmask64 valid) { _mm512_mask_storeu_epi8(probs + s, valid, codes); }
};

// Weights of attention_rows_avx512.cc's weight_row: 2^(2^b - 1 - k) (log2; 0 for the zero code) or p - zp_p, zero
// past T, for every chunk of the row; a log2 weight 2^15 (k = 0 at 4 bits) goes in as -2^15 and its token is kept.
struct WeightSink {
  int16_t* weights;
  bool log2, wraps;  // wraps: 2^b - 1 = 15
  __m512i zero_code, top, prob_zp;
  int64_t wrapped = -1;
  void put(int64_t s, __m512i codes, __mmask64 valid) {
    for (int half = 0; half < 2; ++half) {
      const __m512i c = _mm512_cvtepu8_epi16(half == 0 ? _mm512_castsi512_si256(codes) : _mm512_extracti64x4_epi64(codes, 1));
      const auto m = static_cast<__mmask32>(valid >> (32 * half));
      __m512i w;
      if (log2) {
        const __mmask32 live = _mm512_mask_cmplt_epu16_mask(m, c, zero_code);
        w = _mm512_maskz_sllv_epi16(live, _mm512_set1_epi16(1), _mm512_sub_epi16(top, c));
        const __mmask32 k0 = wraps ? _mm512_mask_cmpeq_epi16_mask(live, c, _mm512_setzero_si512()) : 0;
        if (k0 != 0) {
          assert(wrapped < 0 && (k0 & (k0 - 1)) == 0);  // at most one k = 0 per row
          wrapped = s + 32 * half + __builtin_ctz(k0);
        }
      } else {
        w = _mm512_maskz_sub_epi16(m, c, prob_zp);
      }
      _mm512_storeu_si512(weights + s + 32 * half, w);
    }
  }
};

template <typename Sink>
void log2_codes(const AttentionParams& p, const Log2Plan& plan, const uint8_t* logits, __m512i max, int64_t chunks,
                Sink& sink) {
  const __m512i dt = plan.dt, cap = plan.cap;
  for (int64_t s = 0; s < chunks * kCodes; s += kCodes) {
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
    sink.put(s, _mm512_min_epu8(k, cap), valid);
  }
}

// q = floor(M / (2 sum)) for the even dword lanes of e (see the top).
__m512i quotient(__m512i e, __m512i reciprocal, __m512i sum, __m512i two_sum, __m512i limit, __m512i inv) {
  const __m512i a = _mm512_min_epu64(_mm512_add_epi64(_mm512_srli_epi64(_mm512_mul_epu32(e, reciprocal), 15), sum), limit);
  __m512i q = _mm512_srli_epi64(_mm512_mullo_epi64(a, inv), kReciprocalBits);
  const __m512i r = _mm512_sub_epi64(a, _mm512_mullo_epi64(q, two_sum));
  return _mm512_mask_add_epi64(q, _mm512_cmpge_epu64_mask(r, two_sum), q, _mm512_set1_epi64(1));
}

template <typename Sink>
void uniform_codes(const AttentionParams& p, const int32_t* e, uint64_t sum, int64_t chunks, Sink& sink) {
  const uint64_t two_sum = 2 * sum;
  const __m512i reciprocal = _mm512_set1_epi64(p.prob_reciprocal_q16), vsum = _mm512_set1_epi64(static_cast<int64_t>(sum));
  const __m512i vtwo_sum = _mm512_set1_epi64(static_cast<int64_t>(two_sum));
  const __m512i limit = _mm512_set1_epi64(static_cast<int64_t>(512 * two_sum));
  const __m512i inv = _mm512_set1_epi64(static_cast<int64_t>((uint64_t{1} << kReciprocalBits) / two_sum));
  const __m512i zp = _mm512_set1_epi32(p.prob_zero_point);
  const __m512i lo = _mm512_set1_epi32(p.prob_lo), hi = _mm512_set1_epi32(p.prob_hi);
  for (int64_t s = 0; s < chunks * kCodes; s += kCodes) {
    __m512i code[4];
    for (int z = 0; z < 4; ++z) {
      const __m512i ez = _mm512_load_si512(e + s + 16 * z);
      const __m512i q_even = quotient(ez, reciprocal, vsum, vtwo_sum, limit, inv);
      const __m512i q_odd = quotient(_mm512_srli_epi64(ez, 32), reciprocal, vsum, vtwo_sum, limit, inv);
      const __m512i q = _mm512_or_si512(q_even, _mm512_slli_epi64(q_odd, 32));  // q <= 512
      code[z] = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zp), lo), hi);
    }
    const __m512i bytes = _mm512_packus_epi16(_mm512_packus_epi32(code[0], code[1]), _mm512_packus_epi32(code[2], code[3]));
    sink.put(s, bytes, code_mask(p.tokens - s));
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
    for (int x = 0; x < 16; ++x) lut.transposed[x][d / 16] = table[d + x];
  }
  bool monotone = table[255] >= 0;
  for (int d = 0; d < 255; ++d) monotone = monotone && table[d] >= table[d + 1];
  lut.monotone = monotone;
}

namespace {

// The rows stage by stage: each stage's rows are independent, so their latency chains overlap. chunks: 64-code
// chunks per row to emit (past T they carry no valid lane).
template <typename Sink>
void rows_stage_by_stage(const AttentionParams& p, const SoftmaxLut& lut, const uint8_t* logits, int64_t logit_ld,
                         int rows, int32_t* e_scratch, int64_t chunks, Sink* sinks) {
  assert(softmax_vbmi_supports(p, lut) && rows >= 1 && rows <= kMaxSoftmaxRows);
  const int64_t e_ld = (p.tokens + kCodes - 1) / kCodes * kCodes;
  __m512i max[kMaxSoftmaxRows];
  uint64_t sum[kMaxSoftmaxRows];
  for (int r = 0; r < rows; ++r) max[r] = _mm512_set1_epi8(static_cast<char>(row_max(logits + r * logit_ld, p.tokens)));
  const bool log2 = p.softmax == SoftmaxKind::kLog2;
  for (int r = 0; r < rows; ++r) {
    sum[r] = exp_sum(lut, logits + r * logit_ld, p.tokens, max[r], log2 ? nullptr : e_scratch + r * e_ld);
  }
  if (log2) {
    Log2Plan plan[kMaxSoftmaxRows];
    for (int r = 0; r < rows; ++r) plan[r] = log2_plan(p, lut, sum[r]);
    for (int r = 0; r < rows; ++r) log2_codes(p, plan[r], logits + r * logit_ld, max[r], chunks, sinks[r]);
    return;
  }
  for (int r = 0; r < rows; ++r) uniform_codes(p, e_scratch + r * e_ld, sum[r], chunks, sinks[r]);
}

}  // namespace

void softmax_rows_avx512vbmi(const AttentionParams& p, const SoftmaxLut& lut, const uint8_t* logits, int64_t logit_ld,
                             int rows, int32_t* e_scratch, uint8_t* probs, int64_t prob_ld) {
  CodeSink sinks[kMaxSoftmaxRows];
  for (int r = 0; r < rows; ++r) sinks[r].probs = probs + r * prob_ld;
  rows_stage_by_stage(p, lut, logits, logit_ld, rows, e_scratch, (p.tokens + kCodes - 1) / kCodes, sinks);
}

void softmax_weights_avx512vbmi(const AttentionParams& p, const SoftmaxLut& lut, const uint8_t* logits,
                                int64_t logit_ld, int rows, int32_t* e_scratch, int16_t* weights, int64_t weight_ld,
                                int64_t* wrapped) {
  WeightSink sinks[kMaxSoftmaxRows];
  const int32_t zero_code = int32_t{1} << p.log2_bits;
  for (int r = 0; r < rows; ++r) {
    sinks[r].weights = weights + r * weight_ld;
    sinks[r].log2 = p.softmax == SoftmaxKind::kLog2, sinks[r].wraps = zero_code - 1 == 15;
    sinks[r].zero_code = _mm512_set1_epi16(static_cast<int16_t>(zero_code));
    sinks[r].top = _mm512_set1_epi16(static_cast<int16_t>(zero_code - 1));
    sinks[r].prob_zp = _mm512_set1_epi16(static_cast<int16_t>(p.prob_zero_point));
  }
  rows_stage_by_stage(p, lut, logits, logit_ld, rows, e_scratch, weight_ld / kCodes, sinks);
  for (int r = 0; r < rows; ++r) wrapped[r] = sinks[r].wrapped;
}

}  // namespace fqvit::kernels
