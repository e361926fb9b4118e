#include "fqvit/numerics/patch_embed.h"

#include <cstring>

#include "fqvit/numerics/float_ops.h"

namespace fqvit {

Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias) {
  const int64_t batch = images.dim(0), channels = images.dim(1), height = images.dim(2), width = images.dim(3);
  const int64_t d = weight.dim(0), p = weight.dim(2);
  const int64_t gh = height / p, gw = width / p;
  const int64_t patch_len = channels * p * p;
  const int64_t rows = batch * gh * gw;

  // cols[row, c*P*P + ky*P + kx]: the layout of weight [D, C, P, P] flattened.
  auto cols = Tensor::uninitialized({rows, patch_len});
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t bi = r / (gh * gw), py = (r / gw) % gh, px = r % gw;
    float* dst = cols.data() + r * patch_len;
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t ky = 0; ky < p; ++ky) {
        const float* src = images.data() + ((bi * channels + c) * height + py * p + ky) * width + px * p;
        std::memcpy(dst + (c * p + ky) * p, src, static_cast<size_t>(p) * sizeof(float));
      }
    }
  }
  Tensor flat_weight = weight;
  flat_weight.reshape({d, patch_len});
  auto out = Tensor::uninitialized({batch, gh * gw, d});
  linear(cols.data(), rows, patch_len, patch_len, flat_weight, &bias, out.data());
  return out;
}

}  // namespace fqvit
