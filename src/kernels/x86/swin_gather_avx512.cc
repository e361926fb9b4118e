// Swin's token gathers and average pools in AVX-512, bit-exact with swin_ref.cc:
//   gathers: each output row is a copy of one input row of cols * code_bytes bytes, in 64-byte vectors (the last
//          one overlapping, or one masked vector for rows under 64 bytes); pure copies, so any code width is the
//          same bytes.
//   pools: the int32 sums of 16 channels at a time over the T tokens (|sum| <= 255 T < 2^31, T < 2^23 checked by
//          the lowering); the dispatch requantizes them per channel (C values per image, not worth lanes).
#include <cstddef>

#include "kernels/x86/immintrin_quiet.h"
#include "kernels/x86/requant_avx512.h"
#include "kernels/x86/swin_x86.h"

namespace fqvit::kernels {
namespace {

inline __mmask64 byte_mask(int64_t count) { return count >= 64 ? ~__mmask64{0} : (__mmask64{1} << count) - 1; }

}  // namespace

void gather_rows_avx512(const RowGatherParams& p, const uint8_t* in, uint8_t* out) {
  const int64_t bytes = p.row_bytes();
  const int32_t* source = p.source.data();
  for (int64_t r = 0; r < p.out_rows * p.group; ++r) {
    const uint8_t* src = in + static_cast<int64_t>(source[r]) * bytes;
    uint8_t* dst = out + r * bytes;
    if (bytes < 64) {
      const __mmask64 m = byte_mask(bytes);
      _mm512_mask_storeu_epi8(dst, m, _mm512_maskz_loadu_epi8(m, src));
      continue;
    }
    // Whole vectors, the last one ending at the row's end (overlapping the one before: the same bytes written
    // twice, no masked store, which is slow on AMD Zen).
    for (int64_t b = 0; b < bytes - 64; b += 64) _mm512_storeu_si512(dst + b, _mm512_loadu_si512(src + b));
    _mm512_storeu_si512(dst + bytes - 64, _mm512_loadu_si512(src + bytes - 64));
  }
}

void token_sums_avx512(const uint8_t* in, int64_t tokens, int64_t channels, int32_t zero_point, int32_t* sums) {
  // sum_t (q - zp) = sum_t q - T zp: both exact in int32 (T * 255 < 2^31).
  const __m512i offset = _mm512_set1_epi32(static_cast<int32_t>(tokens) * zero_point);
  for (int64_t c = 0; c < channels; c += 16) {
    const __mmask16 m = lane_mask(channels - c);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t t = 0; t < tokens; ++t) {
      sum = _mm512_add_epi32(sum, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, in + t * channels + c)));
    }
    _mm512_mask_storeu_epi32(sums + c, m, _mm512_sub_epi32(sum, offset));
  }
}

}  // namespace fqvit::kernels
