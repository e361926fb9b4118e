// Shared helpers of the tests/io image tests: where the committed image fixtures are, and their goldens
// (tests/data/images/goldens.safetensors, written by tests/io/make_image_goldens.py with Pillow 9.4).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fqvit/io/image.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit::testing {

inline std::string image_data_dir() { return source_dir() + "/tests/data/images"; }

inline const SafetensorsFile& image_goldens() {
  static const SafetensorsFile file = SafetensorsFile::open(image_data_dir() + "/goldens.safetensors");
  return file;
}

// A U8 golden tensor [H, W, C] as raw bytes.
inline std::vector<uint8_t> golden_u8(const std::string& name, Shape* shape) {
  const SafetensorsFile& file = image_goldens();
  const TensorInfo& info = file.info(name);
  EXPECT_EQ(info.dtype, DType::kU8) << name;
  *shape = info.shape;
  const auto bytes = file.bytes(name);
  std::vector<uint8_t> out(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) out[i] = static_cast<uint8_t>(bytes[i]);
  return out;
}

// Names of the golden tensors that start with `prefix`.
inline std::vector<std::string> golden_names(const std::string& prefix) {
  std::vector<std::string> names;
  for (const TensorInfo& info : image_goldens().tensors()) {
    if (info.name.rfind(prefix, 0) == 0) names.push_back(info.name);
  }
  return names;
}

// Index and value of the first difference, or -1.
inline int64_t first_mismatch(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace fqvit::testing
