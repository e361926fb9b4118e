// libFuzzer target for the quantized-model reader (read_quantized_model, whatever reader main holds): the input is a
// whole file. It either loads into a model and quantizers that pass their own checks, or throws fqvit::Error;
// any other exception, a sanitizer report or a crash is a bug. The seed (fuzz/corpus/quantized_file) is a tiny
// calibrated ViT written by fuzz/make_quantized_seed.py.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fqvit/calibrate/model_file.h"
#include "fqvit/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("fqvit-quant-fuzz-" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const fqvit::QuantizedModel q = fqvit::read_quantized_model(path);
    (void)q;
  } catch (const fqvit::Error&) {
  }
  return 0;
}
