#include "fqvit/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "fqvit/core/error.h"
#include "fqvit/io/atomic_file.h"

namespace fqvit {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

using Json = nlohmann::json;

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8}, {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4}, {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1},
};

const DTypeEntry& dtype_entry(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e;
  }
  return kDTypes[1];
}

// IEEE binary16 -> binary32, exact (every half value is a float value).
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: normalize
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

std::string json_type_name(const Json& j) { return j.type_name(); }

// A JSON value for an error message: never throws on invalid UTF-8, and long values are cut.
std::string show(const Json& j) {
  std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

uint64_t read_offset(const std::string& file, const std::string& field, const Json& j) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0)) {
    fail(file, field, show(j), "a non-negative integer");
  }
  return j.get<uint64_t>();
}

}  // namespace

const char* dtype_name(DType dtype) { return dtype_entry(dtype).name; }
size_t dtype_size(DType dtype) { return dtype_entry(dtype).size; }

bool parse_dtype(const std::string& name, DType* dtype) {
  for (const auto& e : kDTypes) {
    if (name == e.name) {
      *dtype = e.dtype;
      return true;
    }
  }
  return false;
}

namespace {

SafetensorsHeader parse_header_unguarded(const std::string& file, std::string_view json_text, uint64_t data_bytes) {
  Json root;
  try {
    root = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::parse_error& e) {
    fail(file, "header", std::string("malformed JSON (") + e.what() + ")", "a JSON object");
  }
  if (!root.is_object()) fail(file, "header", json_type_name(root), "a JSON object");

  SafetensorsHeader header;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    const Json& value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object()) fail(file, "__metadata__", json_type_name(value), "an object of strings");
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) {
          fail(file, "__metadata__." + m.key(), json_type_name(m.value()), "a string");
        }
        header.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) fail(file, name, json_type_name(value), "an object with dtype, shape, data_offsets");
    TensorInfo info;
    info.name = name;

    auto dtype_it = value.find("dtype");
    if (dtype_it == value.end() || !dtype_it->is_string()) {
      fail(file, name + ".dtype", dtype_it == value.end() ? "nothing" : show(*dtype_it), "a dtype string");
    }
    if (!parse_dtype(dtype_it->get<std::string>(), &info.dtype)) {
      fail(file, name + ".dtype", dtype_it->get<std::string>(), "one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL");
    }

    auto shape_it = value.find("shape");
    if (shape_it == value.end() || !shape_it->is_array()) {
      fail(file, name + ".shape", shape_it == value.end() ? "nothing" : show(*shape_it), "an array of sizes");
    }
    // numel * size must not overflow: saturate, since any valid tensor's byte count fits the data area.
    uint64_t bytes = dtype_size(info.dtype);
    for (const Json& d : *shape_it) {
      const uint64_t size = read_offset(file, name + ".shape", d);
      if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(file, name + ".shape", show(d), "a dimension below 2^63");
      }
      info.shape.push_back(static_cast<int64_t>(size));
      if (__builtin_mul_overflow(bytes, size, &bytes)) bytes = std::numeric_limits<uint64_t>::max();
    }

    auto offsets_it = value.find("data_offsets");
    if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
      fail(file, name + ".data_offsets", offsets_it == value.end() ? "nothing" : show(*offsets_it),
           "[begin, end]");
    }
    info.begin = read_offset(file, name + ".data_offsets", (*offsets_it)[0]);
    info.end = read_offset(file, name + ".data_offsets", (*offsets_it)[1]);
    if (info.end < info.begin) {
      fail(file, name + ".data_offsets", show(*offsets_it), "begin <= end");
    }
    if (info.end > data_bytes) {
      fail(file, name + ".data_offsets", show(*offsets_it),
           "a span inside the data area of " + std::to_string(data_bytes) + " bytes");
    }
    if (bytes != info.end - info.begin) {
      fail(file, name, "a byte span of " + std::to_string(info.end - info.begin),
           "shape " + shape_to_string(info.shape) + " x " + std::to_string(dtype_size(info.dtype)) + " bytes (" +
               dtype_name(info.dtype) + ")");
    }
    header.tensors.push_back(std::move(info));
  }

  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : header.tensors) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      fail(file, by_offset[i]->name + ".data_offsets",
           "begin " + std::to_string(by_offset[i]->begin) + " inside " + by_offset[i - 1]->name,
           "spans that do not overlap (previous ends at " + std::to_string(by_offset[i - 1]->end) + ")");
    }
  }
  return header;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::string& file, std::string_view json_text,
                                           uint64_t data_bytes) {
  try {
    return parse_header_unguarded(file, json_text, data_bytes);
  } catch (const Json::exception& e) {  // a JSON value of an unexpected type slipped past the checks above
    fail(file, "header", std::string("an unexpected value (") + e.what() + ")", "a safetensors header");
  }
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file;
  file.path_ = path;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; fstat below refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "file type", "not a regular file", "a regular safetensors file");
  }
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < 8) {
    ::close(fd);
    fail(path, "file size", std::to_string(file_bytes) + " bytes", "at least 8 (the header length)");
  }
  void* map = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail(path, std::string("cannot map: ") + std::strerror(errno));
  file.map_ = static_cast<const std::byte*>(map);
  file.map_bytes_ = file_bytes;

  file.parse(file_bytes);
  return file;
}

void SafetensorsFile::parse(uint64_t file_bytes) {
  const std::string& path = path_;
  if (file_bytes < 8) {
    fail(path, "file size", std::to_string(file_bytes) + " bytes", "at least 8 (the header length)");
  }
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, map_, 8);
  if (header_bytes > kMaxSafetensorsHeaderBytes) {
    fail(path, "header length", std::to_string(header_bytes),
         "at most " + std::to_string(kMaxSafetensorsHeaderBytes));
  }
  if (header_bytes > file_bytes - 8) {
    fail(path, "header length", std::to_string(header_bytes),
         "at most " + std::to_string(file_bytes - 8) + " (the bytes after the length field)");
  }
  const std::string_view json_text(reinterpret_cast<const char*>(map_ + 8), header_bytes);
  data_ = map_ + 8 + header_bytes;
  header_ = parse_safetensors_header(path, json_text, file_bytes - 8 - header_bytes);
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

SafetensorsFile SafetensorsFile::from_memory(const std::string& origin, std::vector<std::byte> bytes) {
  SafetensorsFile file;
  file.path_ = origin;
  file.owned_ = std::move(bytes);
  file.map_ = file.owned_.data();
  file.parse(file.owned_.size());
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept { *this = std::move(other); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr && owned_.empty()) ::munmap(const_cast<std::byte*>(map_), map_bytes_);
    path_ = std::move(other.path_);
    header_ = std::move(other.header_);
    index_ = std::move(other.index_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
    owned_ = std::move(other.owned_);  // a vector move keeps its buffer, so map_ and data_ stay valid
    other.owned_.clear();
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr && owned_.empty()) ::munmap(const_cast<std::byte*>(map_), map_bytes_);
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) != 0; }

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail(path_, "tensor " + name, "nothing", "a tensor of that name");
  return header_.tensors[it->second];
}

std::span<const std::byte> SafetensorsFile::bytes(const std::string& name) const {
  const TensorInfo& t = info(name);
  return {data_ + t.begin, static_cast<size_t>(t.end - t.begin)};
}

Tensor SafetensorsFile::load_float(const std::string& name) const {
  const TensorInfo& t = info(name);
  Tensor out(t.shape);
  const std::byte* src = data_ + t.begin;
  const int64_t n = out.numel();
  float* dst = out.data();
  switch (t.dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      break;
    case DType::kF16:
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        dst[i] = t.dtype == DType::kF16 ? half_to_float(v) : bfloat16_to_float(v);
      }
      break;
    default:
      fail(path_, name + ".dtype", dtype_name(t.dtype), "F32, F16 or BF16 (a float tensor)");
  }
  return out;
}

Tensor SafetensorsFile::load_float(const std::string& name, const Shape& expected_shape) const {
  const TensorInfo& t = info(name);
  if (t.shape != expected_shape) {
    fail(path_, name + ".shape", shape_to_string(t.shape), shape_to_string(expected_shape));
  }
  return load_float(name);
}

void SafetensorsWriter::add(const std::string& name, const Tensor& tensor) {
  add_raw(name, DType::kF32, tensor.shape(),
          std::as_bytes(std::span<const float>(tensor.data(), static_cast<size_t>(tensor.numel()))));
}

void SafetensorsWriter::add_raw(const std::string& name, DType dtype, const Shape& shape,
                                std::span<const std::byte> bytes) {
  if (static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dtype) != bytes.size()) {
    throw Error("safetensors writer: " + name + ": " + std::to_string(bytes.size()) + " bytes do not fit shape " +
                shape_to_string(shape) + " of " + dtype_name(dtype));
  }
  entries_[name] = Entry{dtype, shape, std::vector<std::byte>(bytes.begin(), bytes.end())};
}

std::string SafetensorsWriter::header_text() const {
  Json header = Json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const auto& [name, entry] : entries_) {
    header[name] = {{"dtype", dtype_name(entry.dtype)},
                    {"shape", entry.shape},
                    {"data_offsets", {offset, offset + entry.bytes.size()}}};
    offset += entry.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data area starts 8-byte aligned
  return text;
}

void SafetensorsWriter::write(const std::string& path) const {
  const std::string text = header_text();
  write_file_atomically(path, [&](std::ostream& out) {
    const uint64_t length = text.size();
    out.write(reinterpret_cast<const char*>(&length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, entry] : entries_) {
      out.write(reinterpret_cast<const char*>(entry.bytes.data()), static_cast<std::streamsize>(entry.bytes.size()));
    }
  });
}

std::vector<std::byte> SafetensorsWriter::serialize() const {
  const std::string text = header_text();
  size_t total = 8 + text.size();
  for (const auto& [name, entry] : entries_) total += entry.bytes.size();
  std::vector<std::byte> out(total);
  const uint64_t length = text.size();
  std::memcpy(out.data(), &length, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  size_t offset = 8 + text.size();
  for (const auto& [name, entry] : entries_) {
    if (!entry.bytes.empty()) std::memcpy(out.data() + offset, entry.bytes.data(), entry.bytes.size());
    offset += entry.bytes.size();
  }
  return out;
}

}  // namespace fqvit
