// The model's first integer ops: pixels to patch rows of input codes, and the token sequence.
#include <cstddef>
#include <cstring>
#include <vector>

#include "fqvit/kernels/int_ops.h"

namespace fqvit {

void patch_rows_ref(const PatchInputParams& p, const uint8_t* pixels, uint8_t* rows) {
  const int64_t s = p.image_size, ps = p.patch, grid = s / ps, len = p.channels * ps * ps;
  for (int64_t py = 0; py < grid; ++py) {
    for (int64_t px = 0; px < grid; ++px) {
      uint8_t* dst = rows + (py * grid + px) * len;
      for (int64_t c = 0; c < p.channels; ++c) {
        const auto& lut = p.pixel_code[static_cast<std::size_t>(c)];
        for (int64_t ky = 0; ky < ps; ++ky) {
          const uint8_t* src = pixels + (c * s + py * ps + ky) * s + px * ps;
          for (int64_t kx = 0; kx < ps; ++kx) dst[(c * ps + ky) * ps + kx] = lut[src[kx]];
        }
      }
    }
  }
}

void embed_tokens_ref(const EmbedParams& p, const uint8_t* patch_codes, uint8_t* tokens) {
  const int64_t d = p.dim, t_count = p.prefix + p.patches;
  std::vector<uint8_t> embed(static_cast<std::size_t>(t_count * d));
  std::memcpy(embed.data(), p.prefix_codes.data(), static_cast<std::size_t>(p.prefix * d));
  rescale_codes_ref(p.patch_to_embed, patch_codes, p.patches * d, embed.data() + p.prefix * d);
  residual_add_ref(p.add_pos, embed.data(), p.pos_codes.data(), t_count, tokens);
}

}  // namespace fqvit
