// PNG decoding with libpng, giving the pixels of Pillow's PngImagePlugin + convert("RGB") (see image.h).
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/io/image.h"

namespace fqvit {
namespace {

struct PngReader {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[256] = {};
};

void png_read_from_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* reader = static_cast<PngReader*>(png_get_io_ptr(png));
  if (length > reader->size - reader->pos) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, reader->data + reader->pos, length);
  reader->pos += length;
}

// libpng's error callback must not return: keep the message, jump back to decode_png_impl.
void png_error_handler(png_structp png, png_const_charp message) {
  auto* reader = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof reader->message, "%s", message);
  png_longjmp(png, 1);
}

// Warnings (bad ancillary chunks and the like): ignored, as Pillow decodes such files.
void png_warning_handler(png_structp, png_const_charp) {}

struct PngState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngState() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

// Returns false with reader->message set on a libpng error. No object with a destructor lives in this frame, so
// the longjmp back into it is well defined; storage is owned by the caller.
bool decode_png_impl(PngState* state, PngReader* reader, RgbImage* image, std::vector<uint8_t>* raw,
                     std::vector<png_bytep>* rows, std::string* limit_error) {
  png_structp png = state->png;
  png_infop info = state->info;
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, reader, png_read_from_memory);
  png_read_info(png, info);

  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  const int color_type = png_get_color_type(png, info);
  if (static_cast<int64_t>(width) * height > kMaxImagePixels) {
    *limit_error = std::to_string(width) + "x" + std::to_string(height) + " pixels";
    return true;
  }
  // 16-bit gray without alpha is Pillow's mode "I" and convert("RGB") clamps it; keep all 16 bits for that.
  const bool gray16 = color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16 && !gray16) png_set_strip_16(png);  // the high byte, as Pillow's ";16B" unpackers
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const int channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  const int out_depth = png_get_bit_depth(png, info);
  const size_t expected_row = static_cast<size_t>(width) * channels * (out_depth == 16 ? 2 : 1);
  if (channels < 1 || channels > 4 || (out_depth != 8 && !(gray16 && out_depth == 16)) || row_bytes < expected_row) {
    *limit_error = "libpng output of " + std::to_string(channels) + " channels, " + std::to_string(out_depth) + " bits";
    return true;
  }
  raw->resize(row_bytes * height);
  rows->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) (*rows)[y] = raw->data() + y * row_bytes;
  png_read_image(png, rows->data());
  // No png_read_end: Pillow does not require what follows the image data (it tolerates a missing IEND).

  image->width = static_cast<int>(width);
  image->height = static_cast<int>(height);
  image->pixels.resize(static_cast<size_t>(width) * height * 3);
  for (png_uint_32 y = 0; y < height; ++y) {
    const uint8_t* in = (*rows)[y];
    uint8_t* out = image->row(static_cast<int>(y));
    for (png_uint_32 x = 0; x < width; ++x, out += 3) {
      if (gray16) {
        const int v = (in[2 * x] << 8) | in[2 * x + 1];
        out[0] = out[1] = out[2] = static_cast<uint8_t>(std::min(v, 255));
      } else if (channels <= 2) {  // gray, gray + alpha: replicate, drop alpha
        out[0] = out[1] = out[2] = in[x * channels];
      } else {  // RGB, RGBA: drop alpha
        std::memcpy(out, in + x * channels, 3);
      }
    }
  }
  return true;
}

}  // namespace

RgbImage decode_png(std::span<const uint8_t> bytes, const std::string& origin) {
  PngReader reader;
  reader.data = bytes.data();
  reader.size = bytes.size();
  PngState state;
  state.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_error_handler, png_warning_handler);
  if (state.png == nullptr) fail(origin, "libpng: cannot create a read struct");
  state.info = png_create_info_struct(state.png);
  if (state.info == nullptr) fail(origin, "libpng: cannot create an info struct");
  RgbImage image;
  std::vector<uint8_t> raw;
  std::vector<png_bytep> rows;
  std::string limit_error;
  if (!decode_png_impl(&state, &reader, &image, &raw, &rows, &limit_error)) {
    fail(origin, "PNG data", std::string("truncated/corrupt: ") + reader.message, "a decodable PNG");
  }
  if (!limit_error.empty()) {
    fail(origin, "PNG image", limit_error, "at most " + std::to_string(kMaxImagePixels) + " pixels");
  }
  return image;
}

}  // namespace fqvit
