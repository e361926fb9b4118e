// safetensors: 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data area; offsets are relative to the data area. The reader memory-maps the file and validates every
// entry before anything is read, so a bad file fails at open with the offending value named.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fqvit/core/tensor.h"

namespace fqvit {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);
bool parse_dtype(const std::string& name, DType* dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  uint64_t begin = 0;  // byte offsets in the data area
  uint64_t end = 0;
};

// Largest header accepted, as in the reference implementation: a larger one is a corrupt or hostile file.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

// Parses and validates a header (the JSON text) against a data area of `data_bytes` bytes. Throws Error naming
// `file`. Exposed on its own for the fuzz target.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in header order
  std::map<std::string, std::string> metadata;
};
SafetensorsHeader parse_safetensors_header(const std::string& file, std::string_view json_text,
                                           uint64_t data_bytes);

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // The same validation over a file image held in memory; `origin` names it in errors.
  static SafetensorsFile from_memory(const std::string& origin, std::vector<std::byte> bytes);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  bool contains(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws Error if missing

  // Float view of a tensor: F32, F16 and BF16 are converted. Throws for other dtypes.
  Tensor load_float(const std::string& name) const;
  // Same, and checks the shape: throws Error "<file>: <name>: found shape [..], expected [..]".
  Tensor load_float(const std::string& name, const Shape& expected_shape) const;
  // Raw little-endian bytes of a tensor, for integer dtypes.
  std::span<const std::byte> bytes(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  void parse(uint64_t file_bytes);  // validates the header of map_[0, file_bytes)
  std::string path_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
  const std::byte* map_ = nullptr;
  size_t map_bytes_ = 0;
  const std::byte* data_ = nullptr;
  std::vector<std::byte> owned_;  // from_memory: the file image (map_ points into it, nothing is mapped)
};

// Builds a safetensors file in memory and writes it atomically (temporary name, then rename).
class SafetensorsWriter {
 public:
  void add(const std::string& name, const Tensor& tensor);  // F32
  void add_raw(const std::string& name, DType dtype, const Shape& shape, std::span<const std::byte> bytes);
  template <typename T>
  void add_values(const std::string& name, DType dtype, const Shape& shape, const std::vector<T>& values) {
    add_raw(name, dtype, shape, std::as_bytes(std::span<const T>(values)));
  }
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void write(const std::string& path) const;
  std::vector<std::byte> serialize() const;  // the file image, for SafetensorsFile::from_memory

 private:
  std::string header_text() const;  // JSON padded to a multiple of 8 bytes
  struct Entry {
    DType dtype;
    Shape shape;
    std::vector<std::byte> bytes;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace fqvit
