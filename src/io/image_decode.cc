#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/io/image.h"

namespace fqvit {

ImageFormat detect_image_format(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kJpeg[] = {0xFF, 0xD8, 0xFF};
  static constexpr uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= sizeof kJpeg && std::memcmp(bytes.data(), kJpeg, sizeof kJpeg) == 0) return ImageFormat::kJpeg;
  if (bytes.size() >= sizeof kPng && std::memcmp(bytes.data(), kPng, sizeof kPng) == 0) return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

RgbImage decode_image(std::span<const uint8_t> bytes, const std::string& origin) {
  switch (detect_image_format(bytes)) {
    case ImageFormat::kJpeg:
      return decode_jpeg(bytes, origin);
    case ImageFormat::kPng:
      return decode_png(bytes, origin);
    case ImageFormat::kUnknown:
      break;
  }
  if (bytes.empty()) fail(origin, "image data", "an empty file", "a JPEG or PNG file");
  std::string head;
  char hex[4];
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    std::snprintf(hex, sizeof hex, i == 0 ? "%02X" : " %02X", bytes[i]);
    head += hex;
  }
  fail(origin, "image format", "leading bytes " + head, "JPEG (FF D8 FF) or PNG (89 50 4E 47 0D 0A 1A 0A)");
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::FILE* f = file.get();
  // Read straight into the vector, sized from the file size plus one byte so that EOF is seen in one pass.
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) fail(path, "cannot read: is a directory");
  size_t capacity = 1 << 16;
  if (S_ISREG(st.st_mode) && st.st_size >= 0) capacity = static_cast<size_t>(st.st_size) + 1;
  std::vector<uint8_t> bytes;
  bytes.resize(capacity);
  size_t used = 0;
  for (;;) {
    used += std::fread(bytes.data() + used, 1, bytes.size() - used, f);
    if (used < bytes.size()) break;
    bytes.resize(bytes.size() * 2);
  }
  bytes.resize(used);
  if (std::ferror(f) != 0) fail(path, std::string("read error: ") + std::strerror(errno));
  return bytes;
}

RgbImage decode_image_file(const std::string& path) { return decode_image(read_file_bytes(path), path); }

}  // namespace fqvit
