#include "fqvit/model/swin_buffers.h"

#include <cstring>

#include "fqvit/core/error.h"

namespace fqvit {

void check_relative_position_index(const SafetensorsFile& file, const std::string& name,
                                   const std::vector<int32_t>& expected, int64_t window, const std::string& origin) {
  if (!file.contains(name)) return;
  const TensorInfo& info = file.info(name);
  const int64_t n = window * window;
  if (info.shape != Shape{n, n}) {
    fail(origin, name + ".shape", shape_to_string(info.shape),
         shape_to_string({n, n}) + " (window " + std::to_string(window) + ")");
  }
  if (info.dtype != DType::kI64 && info.dtype != DType::kI32) {
    fail(origin, name + ".dtype", dtype_name(info.dtype), "I64 or I32");
  }
  const auto bytes = file.bytes(name);
  for (size_t i = 0; i < expected.size(); ++i) {
    int64_t v = 0;
    if (info.dtype == DType::kI64) {
      std::memcpy(&v, bytes.data() + i * 8, 8);
    } else {
      int32_t v32 = 0;
      std::memcpy(&v32, bytes.data() + i * 4, 4);
      v = v32;
    }
    if (v != expected[i]) {
      fail(origin, name + "[" + std::to_string(i) + "]", std::to_string(v),
           std::to_string(expected[i]) + " (the official relative position index)");
    }
  }
}

void check_attention_mask(const SafetensorsFile& file, const std::string& name, const std::vector<float>& expected,
                          int64_t windows, int64_t tokens, const std::string& origin) {
  if (!file.contains(name)) return;
  if (expected.empty()) fail(origin, name, "present", "no attention mask (the block is not shifted)");
  const Tensor mask = file.load_float(name, {windows, tokens, tokens});
  for (size_t i = 0; i < expected.size(); ++i) {
    if (mask[static_cast<int64_t>(i)] != expected[i]) {
      fail(origin, name + "[" + std::to_string(i) + "]", std::to_string(mask[static_cast<int64_t>(i)]),
           std::to_string(expected[i]) + " (the official shifted-window mask)");
    }
  }
}

}  // namespace fqvit
