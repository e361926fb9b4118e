// Image decoding to 8-bit RGB with the pixels PIL gives for `Image.open(path).convert("RGB")` (Pillow 9.4, the
// reference's version), so that accuracy figures start from the same bytes:
//   JPEG  libjpeg-turbo with its defaults (ISLOW IDCT, fancy upsampling), which is what Pillow links and uses.
//         1 component -> gray replicated to R=G=B; 3 -> RGB (libjpeg converts YCbCr); 4 (CMYK or YCCK) -> CMYK from
//         libjpeg, taken as Adobe-inverted as Pillow always does ("CMYK;I"), then Pillow's cmyk2rgb.
//   PNG   libpng. Gray 1/2/4-bit scaled to 8 bits; palette looked up; alpha dropped, never composited; 16-bit
//         samples keep their high byte, except 16-bit gray without alpha, which Pillow opens as mode "I" and
//         clamps to 255 in convert("RGB") (min(v, 255): mostly white). gAMA/iCCP are ignored, as Pillow does.
//         EXIF orientation is not applied (Image.open does not either).
// A corrupt or truncated file throws fqvit::Error naming the origin; a libjpeg "premature end of JPEG file"
// warning counts as an error (Pillow reports "image file is truncated"), other libjpeg warnings are ignored (Pillow
// ignores them too and decodes what libjpeg gives).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace fqvit {

// 8-bit RGB, interleaved (R, G, B per pixel), rows top to bottom with no padding: pixels.size() == 3 * w * h.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;

  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * 3; }
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * 3; }
};

enum class ImageFormat { kUnknown, kJpeg, kPng };

// By magic bytes: JPEG starts FF D8 FF, PNG with its 8-byte signature.
ImageFormat detect_image_format(std::span<const uint8_t> bytes);

// Largest image accepted, in pixels: Pillow raises DecompressionBombError above 2 * MAX_IMAGE_PIXELS.
constexpr int64_t kMaxImagePixels = 2 * 89478485;

// Decodes JPEG or PNG (chosen by magic bytes). `origin` names the data in errors (normally the file path).
RgbImage decode_image(std::span<const uint8_t> bytes, const std::string& origin);
RgbImage decode_jpeg(std::span<const uint8_t> bytes, const std::string& origin);
RgbImage decode_png(std::span<const uint8_t> bytes, const std::string& origin);

// Reads and decodes a file. Throws Error naming `path` if it cannot be read or decoded.
RgbImage decode_image_file(const std::string& path);

// The whole file. Throws Error naming `path` if it cannot be opened or read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace fqvit
