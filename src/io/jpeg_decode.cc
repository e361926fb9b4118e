// JPEG decoding with libjpeg-turbo, matching Pillow's JpegDecode.c + JpegImagePlugin + convert("RGB").
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "fqvit/core/error.h"
#include "fqvit/io/image.h"

namespace fqvit {
namespace {

// libjpeg reports errors through error_exit, which must not return: it longjmps back to decode_jpeg_impl, which
// then returns false. Only plain C frames (libjpeg's and these callbacks) are skipped by the jump.
struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (msg_level -1) and trace messages. Pillow ignores warnings ("Corrupt JPEG data: ...") and decodes what
// libjpeg produces, but a source that runs dry makes it suspend and then fail with "image file is truncated": the
// memory source's equivalent is the JWRN_JPEG_EOF warning (it then pads with a fake EOI), so that one is an error.
void jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit(cinfo);
}

void jpeg_output_message(j_common_ptr) {}

// Pillow: the 4-component data is Adobe-style inverted CMYK ("CMYK;I" unpacks 255 - v), then Convert.c cmyk2rgb:
// nk = 255 - K; out = clip8(nk - MULDIV255(C, nk)) with MULDIV255(a, b) = ((t = a*b + 128) >> 8) + t) >> 8.
inline uint8_t cmyk_channel(int inverted_ink, int nk) {
  const int t = inverted_ink * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

struct JpegState {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  bool created = false;
  ~JpegState() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// Returns false with state->err.message set on a libjpeg error. No object with a destructor lives in this frame, so
// the longjmp back into it is well defined; storage is owned by the caller.
bool decode_jpeg_impl(JpegState* state, const uint8_t* data, size_t size, RgbImage* image,
                      std::vector<uint8_t>* scratch, std::string* limit_error) {
  jpeg_decompress_struct* cinfo = &state->cinfo;
  if (setjmp(state->err.jump)) return false;
  jpeg_create_decompress(cinfo);
  state->created = true;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);

  const int components = cinfo->num_components;
  if (components == 1) {
    cinfo->out_color_space = JCS_GRAYSCALE;
  } else if (components == 3) {
    cinfo->out_color_space = JCS_RGB;
  } else if (components == 4) {
    cinfo->out_color_space = JCS_CMYK;  // libjpeg converts YCCK to CMYK
  } else {
    *limit_error = std::to_string(components) + " colour components";
    return true;
  }
  const int64_t pixels = static_cast<int64_t>(cinfo->image_width) * cinfo->image_height;
  if (pixels > kMaxImagePixels) {
    *limit_error = std::to_string(cinfo->image_width) + "x" + std::to_string(cinfo->image_height) + " pixels";
    return true;
  }

  jpeg_start_decompress(cinfo);
  const int width = static_cast<int>(cinfo->output_width);
  const int height = static_cast<int>(cinfo->output_height);
  image->width = width;
  image->height = height;
  image->pixels.resize(static_cast<size_t>(width) * height * 3);
  if (components != 3) scratch->resize(static_cast<size_t>(width) * components);

  while (cinfo->output_scanline < cinfo->output_height) {
    const int y = static_cast<int>(cinfo->output_scanline);
    uint8_t* out = image->row(y);
    JSAMPROW row = components == 3 ? out : scratch->data();
    if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
      // Cannot happen with the memory source (it never suspends); treat as truncation all the same.
      std::snprintf(state->err.message, sizeof state->err.message, "no scanline %d", y);
      return false;
    }
    if (components == 1) {
      const uint8_t* g = scratch->data();
      for (int x = 0; x < width; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = g[x];
    } else if (components == 4) {
      const uint8_t* p = scratch->data();
      for (int x = 0; x < width; ++x, p += 4) {
        // raw libjpeg values are the Adobe-inverted inks: Pillow's C' = 255 - c, nk = 255 - K' = k.
        const int nk = p[3];
        out[3 * x + 0] = cmyk_channel(255 - p[0], nk);
        out[3 * x + 1] = cmyk_channel(255 - p[1], nk);
        out[3 * x + 2] = cmyk_channel(255 - p[2], nk);
      }
    }
  }
  // Pillow reads on to EOI (jpeg_finish_decompress) and fails on what it finds there: corrupt bytes that end the
  // scan early leave a bad marker ("broken data stream"), a missing EOI runs the source dry (JWRN_JPEG_EOF above).
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

RgbImage decode_jpeg(std::span<const uint8_t> bytes, const std::string& origin) {
  JpegState state;
  state.cinfo.err = jpeg_std_error(&state.err.pub);
  state.err.pub.error_exit = jpeg_error_exit;
  state.err.pub.emit_message = jpeg_emit_message;
  state.err.pub.output_message = jpeg_output_message;
  state.err.message[0] = '\0';
  RgbImage image;
  std::vector<uint8_t> scratch;
  std::string limit_error;
  if (!decode_jpeg_impl(&state, bytes.data(), bytes.size(), &image, &scratch, &limit_error)) {
    fail(origin, "JPEG data", std::string("truncated/corrupt: ") + state.err.message, "a decodable JPEG");
  }
  if (!limit_error.empty()) {
    fail(origin, "JPEG image", limit_error,
         "1, 3 or 4 components and at most " + std::to_string(kMaxImagePixels) + " pixels");
  }
  return image;
}

}  // namespace fqvit
