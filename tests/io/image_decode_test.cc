// Decoding against Pillow 9.4's Image.open(f).convert("RGB") on the committed fixtures, and the error paths.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "fqvit/io/image.h"
#include "image_test_util.h"
#include "test_paths.h"

namespace fqvit {
namespace {

using testing::golden_names;
using testing::golden_u8;
using testing::image_data_dir;

TEST(ImageDecode, MatchesPillowOnEveryFixture) {
  const auto names = golden_names("decode/");
  ASSERT_GE(names.size(), 20u);
  for (const std::string& name : names) {
    const std::string file = name.substr(std::string("decode/").size());
    SCOPED_TRACE(file);
    Shape shape;
    const std::vector<uint8_t> expected = golden_u8(name, &shape);
    const RgbImage image = decode_image_file(image_data_dir() + "/" + file);
    ASSERT_EQ(shape, (Shape{image.height, image.width, 3}));
    const int64_t at = testing::first_mismatch(image.pixels, expected);
    EXPECT_EQ(at, -1) << "first difference at pixel " << at / 3 << " channel " << at % 3 << ": got "
                      << int(image.pixels[at]) << ", Pillow " << int(expected[at]);
  }
}

TEST(ImageDecode, DetectsFormatByMagic) {
  const std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE0};
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0};
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a'};
  EXPECT_EQ(detect_image_format(jpeg), ImageFormat::kJpeg);
  EXPECT_EQ(detect_image_format(png), ImageFormat::kPng);
  EXPECT_EQ(detect_image_format(gif), ImageFormat::kUnknown);
  EXPECT_EQ(detect_image_format({}), ImageFormat::kUnknown);
  EXPECT_EQ(detect_image_format(std::span(jpeg).first(2)), ImageFormat::kUnknown);
}

// ---- bad input: every failure is an fqvit::Error whose message names the file --------------------------------

std::vector<uint8_t> fixture(const std::string& name) { return read_file_bytes(image_data_dir() + "/" + name); }

std::string write_scratch(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Decodes `path`, expecting an Error that mentions the path and `what`; returns the message.
std::string expect_decode_error(const std::string& path, const std::string& what) {
  try {
    const RgbImage image = decode_image_file(path);
    ADD_FAILURE() << path << " decoded to " << image.width << "x" << image.height << ", expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
    return message;
  }
  return {};
}

size_t find_marker(const std::vector<uint8_t>& bytes, uint8_t marker) {
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == marker) return i;
  }
  ADD_FAILURE() << "marker FF " << std::hex << int(marker) << " not found";
  return 0;
}

class ImageDecodeErrors : public ::testing::Test {
 protected:
  std::string dir_ = testing::scratch_dir("image_decode_errors");
};

TEST_F(ImageDecodeErrors, TruncatedJpeg) {
  for (const char* name : {"rgb420_37x23.jpg", "rgb444_progressive_31x19.jpg"}) {
    const std::vector<uint8_t> good = fixture(name);
    // Half the file, and only the EOI marker missing: Pillow reports "image file is truncated" for both.
    for (const size_t keep : {good.size() / 2, good.size() - 2}) {
      const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep));
      const std::string path = write_scratch(dir_, "cut" + std::to_string(keep) + "_" + name, cut);
      const std::string message = expect_decode_error(path, "JPEG data: found truncated/corrupt");
      EXPECT_NE(message.find("Premature end of JPEG file"), std::string::npos) << message;
    }
  }
}

TEST_F(ImageDecodeErrors, CorruptJpeg) {
  const std::vector<uint8_t> good = fixture("rgb420_37x23.jpg");
  std::vector<uint8_t> bad_precision = good;  // SOF0 sample precision 8 -> 9
  bad_precision[find_marker(good, 0xC0) + 4] = 9;
  expect_decode_error(write_scratch(dir_, "precision.jpg", bad_precision), "JPEG data: found truncated/corrupt");
  std::vector<uint8_t> bad_length = good;  // DHT segment length 0
  const size_t dht = find_marker(good, 0xC4);
  bad_length[dht + 2] = 0;
  bad_length[dht + 3] = 0;
  expect_decode_error(write_scratch(dir_, "length.jpg", bad_length), "JPEG data: found truncated/corrupt");
  // Only the magic bytes.
  expect_decode_error(write_scratch(dir_, "magic_only.jpg", {0xFF, 0xD8, 0xFF}), "JPEG data");
}

// Corrupt bytes mid-file that end the entropy-coded scan early: libjpeg only warns while decoding the lines (and
// pads them), then fails on the marker it finds on the way to EOI. Pillow 9.4 rejects both files below with "broken
// data stream when reading image file" (checked with Debian's python3-pil), as it does 24 of 40 ImageNet val images
// with 200 random bytes overwritten mid-file, the very 24 this decoder now refuses.
TEST_F(ImageDecodeErrors, CorruptBytesThatEndTheScanEarly) {
  const std::vector<uint8_t> good = fixture("rgb422_45x29.jpg");
  ASSERT_EQ(good[good.size() - 2], 0xFF);
  ASSERT_EQ(good[good.size() - 1], 0xD9);
  std::vector<uint8_t> mid = good;  // an unsupported marker FF B5 three quarters into the file
  const auto at = static_cast<std::ptrdiff_t>(good.size() * 3 / 4);
  mid.insert(mid.begin() + at, {0xFF, 0xB5});
  const std::string path = write_scratch(dir_, "mid_marker.jpg", mid);
  std::string message = expect_decode_error(path, "JPEG data: found truncated/corrupt");
  EXPECT_NE(message.find("Unsupported marker type 0xb5"), std::string::npos) << message;
  std::vector<uint8_t> tail = good;  // the same marker between the last scan and EOI
  tail.insert(tail.end() - 2, {0xFF, 0xB5});
  message = expect_decode_error(write_scratch(dir_, "tail_marker.jpg", tail), "JPEG data: found truncated/corrupt");
  EXPECT_NE(message.find("Unsupported marker type 0xb5"), std::string::npos) << message;
}

TEST_F(ImageDecodeErrors, TruncatedAndCorruptPng) {
  const std::vector<uint8_t> good = fixture("rgba8_19x13.png");
  const std::vector<uint8_t> half(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
  expect_decode_error(write_scratch(dir_, "half.png", half), "PNG data: found truncated/corrupt");
  const std::vector<uint8_t> header_only(good.begin(), good.begin() + 8);
  expect_decode_error(write_scratch(dir_, "signature.png", header_only), "PNG data: found truncated/corrupt");
  std::vector<uint8_t> bad_crc = good;  // IHDR's CRC (bytes 29..32)
  bad_crc[29] ^= 0xFF;
  expect_decode_error(write_scratch(dir_, "crc.png", bad_crc), "PNG data: found truncated/corrupt");
}

TEST_F(ImageDecodeErrors, UnknownEmptyMissing) {
  const std::string gif = write_scratch(dir_, "image.gif", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0});
  const std::string message = expect_decode_error(gif, "image format: found leading bytes 47 49 46 38 39 61 01 00");
  EXPECT_NE(message.find("expected JPEG"), std::string::npos) << message;
  expect_decode_error(write_scratch(dir_, "empty.jpg", {}), "an empty file");
  expect_decode_error(dir_ + "/missing.jpg", "cannot open");
  expect_decode_error(dir_, "");  // a directory: opens, then fails to read
}

TEST(ImageDecode, InMemoryErrorsNameTheOrigin) {
  const std::vector<uint8_t> junk = {0xFF, 0xD8, 0xFF, 0x00, 0x01};
  try {
    decode_image(junk, "archive.tar:member.jpg");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("archive.tar:member.jpg: JPEG data", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace fqvit
