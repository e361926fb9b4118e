// Rewrites a safetensors file with one thing changed (a tensor's values, a metadata entry), so CLI tests can build
// tampered checkpoints and quantized files from good ones.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "fqvit/io/safetensors.h"

namespace fqvit::testing {

// Copies `in` to `out`; float tensors (F32, F16, BF16; written back as F32) pass through `edit_f32(name, tensor)`,
// metadata through `edit_meta`.
inline void rewrite_safetensors(const std::string& in, const std::string& out,
                                const std::function<void(const std::string&, Tensor&)>& edit_f32,
                                const std::function<void(std::map<std::string, std::string>&)>& edit_meta = {}) {
  const SafetensorsFile file = SafetensorsFile::open(in);
  SafetensorsWriter writer;
  for (const TensorInfo& t : file.tensors()) {
    if (t.dtype == DType::kF32 || t.dtype == DType::kF16 || t.dtype == DType::kBF16) {
      Tensor v = file.load_float(t.name);
      if (edit_f32) edit_f32(t.name, v);
      writer.add(t.name, v);
    } else {
      writer.add_raw(t.name, t.dtype, t.shape, file.bytes(t.name));
    }
  }
  std::map<std::string, std::string> meta = file.metadata();
  if (edit_meta) edit_meta(meta);
  for (const auto& [k, v] : meta) writer.set_metadata(k, v);
  writer.write(out);
}

}  // namespace fqvit::testing
