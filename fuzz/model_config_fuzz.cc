// libFuzzer target for config.json (the checkpoint's and a quantized file's __metadata__.model_config): any text
// either parses into a config whose sizes are within the bounds the allocators rely on, or throws fqvit::Error.
// Any other exception (a raw nlohmann::json one) escapes and is reported as a crash.
#include <cstdint>
#include <string>

#include "fqvit/core/error.h"
#include "fqvit/io/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const fqvit::ModelConfig c = fqvit::parse_model_config(text, "fuzz");
    const int side = c.preprocess.input_size;
    if (side <= 0 || side > fqvit::kMaxImageSide || c.img_size <= 0 || c.img_size > fqvit::kMaxImageSide) {
      __builtin_trap();
    }
    const int resize = c.preprocess.resize_shorter();  // floor(S / crop_pct), crop_pct >= 0.25
    if (resize < side || resize > 4 * fqvit::kMaxImageSide) __builtin_trap();
  } catch (const fqvit::Error&) {
  }
  return 0;
}
