// libFuzzer target for the safetensors header parser: the first 8 bytes give the data-area size, the rest is the
// header text. Any input must either parse into spans inside the data area or throw fqvit::Error; nothing else.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t data_bytes = 0;
  std::memcpy(&data_bytes, data, 8);
  const std::string_view header(reinterpret_cast<const char*>(data + 8), size - 8);
  try {
    const auto parsed = fqvit::parse_safetensors_header("fuzz", header, data_bytes);
    for (const auto& t : parsed.tensors) {
      if (t.begin > t.end || t.end > data_bytes) __builtin_trap();
    }
  } catch (const fqvit::Error&) {
  }
  return 0;
}
