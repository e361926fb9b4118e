// Checks of the buffers an official Swin `.pth` (converted to safetensors) stores beside its weights: each block's
// `attn.relative_position_index` and each shifted block's `attn_mask`. Nobody reads them (the float graph and the
// integer lowering rebuild both from the geometry, model/swin_window.h); a file whose buffers disagree with that
// geometry was made for another window, shift or image size, so it is refused rather than run with the wrong maps.
// Used by the float loader (SwinModel::load) and the Swin lowering (the quantized file carries the buffers over).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fqvit/io/safetensors.h"

namespace fqvit {

// When `file` holds tensor `name`: shape [N, N] (N = window^2), I64 or I32, equal to `expected` element by element.
// Throws Error (origin, name + field, found, expected) at the first difference; nothing when the tensor is absent.
void check_relative_position_index(const SafetensorsFile& file, const std::string& name,
                                   const std::vector<int32_t>& expected, int64_t window, const std::string& origin);

// When `file` holds tensor `name`: the block must be shifted (`expected` not empty), and the mask [windows, tokens,
// tokens] equal to `expected` (0 / -100, model/swin_window.h shifted_window_mask). Throws Error as above.
void check_attention_mask(const SafetensorsFile& file, const std::string& name, const std::vector<float>& expected,
                          int64_t windows, int64_t tokens, const std::string& origin);

}  // namespace fqvit
