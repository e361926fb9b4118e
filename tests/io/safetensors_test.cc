// The safetensors reader against files built byte by byte: every validation names the file and the offending value.
#include "fqvit/io/safetensors.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fqvit/core/error.h"
#include "test_paths.h"

namespace fqvit {
namespace {

// Writes an 8-byte length, the header text as given, then `data_bytes` bytes of data.
std::string write_raw(const std::string& dir, const std::string& name, const std::string& header,
                      const std::vector<uint8_t>& data, int64_t length_override = -1) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = length_override >= 0 ? static_cast<uint64_t>(length_override) : header.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return path;
}

// Expects open() to throw an Error whose message contains the path and every fragment.
void expect_open_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    SafetensorsFile::open(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const auto& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message << " lacks " << f;
  }
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::scratch_dir("safetensors"); }
  std::string dir_;
};

TEST_F(SafetensorsTest, RoundTripsFloatAndConvertsHalfTypes) {
  Tensor t({2, 3});
  for (int i = 0; i < 6; ++i) t[i] = static_cast<float>(i) - 2.5f;
  SafetensorsWriter writer;
  writer.add("a", t);
  // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, smallest subnormal 2^-24 = 0x0001.
  writer.add_values<uint16_t>("h", DType::kF16, {4}, {0x3C00, 0xC000, 0x7BFF, 0x0001});
  // BF16: 1.0 = 0x3F80, -0.5 = 0xBF00, 3.140625 = 0x4049.
  writer.add_values<uint16_t>("b", DType::kBF16, {3}, {0x3F80, 0xBF00, 0x4049});
  writer.add_values<int8_t>("q", DType::kI8, {2}, {-128, 127});
  writer.set_metadata("format", "pt");
  const std::string path = dir_ + "/ok.safetensors";
  writer.write(path);

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  const Tensor a = file.load_float("a", {2, 3});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a[i], t[i]);
  const Tensor h = file.load_float("h");
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));
  const Tensor b = file.load_float("b");
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -0.5f);
  EXPECT_EQ(b[2], 3.140625f);
  const auto q = file.bytes("q");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(static_cast<int8_t>(q[0]), -128);
  EXPECT_THROW(file.load_float("q"), Error);  // integer tensors are not silently converted
}

TEST_F(SafetensorsTest, InMemoryImageEqualsWrittenFile) {
  SafetensorsWriter writer;
  Tensor t({3}, 1.5f);
  writer.add("t", t);
  writer.set_metadata("k", "v");
  const std::string path = dir_ + "/mem.safetensors";
  writer.write(path);
  std::ifstream in(path, std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<std::byte> image = writer.serialize();
  ASSERT_EQ(image.size(), on_disk.size());
  EXPECT_EQ(std::memcmp(image.data(), on_disk.data(), image.size()), 0);
  const auto file = SafetensorsFile::from_memory("memory", image);
  EXPECT_EQ(file.load_float("t", {3})[2], 1.5f);
  EXPECT_EQ(file.metadata().at("k"), "v");
  try {
    SafetensorsFile::from_memory("memory image", std::vector<std::byte>(4));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("memory image: file size: found 4 bytes"), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, RejectsFileShorterThanLengthField) {
  const std::string path = dir_ + "/short.safetensors";
  std::ofstream(path, std::ios::binary) << "abc";
  expect_open_error(path, {"file size", "3 bytes"});
}

TEST_F(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
  const auto path = write_raw(dir_, "beyond.safetensors", "{}", {}, 4096);
  expect_open_error(path, {"header length", "4096"});
}

TEST_F(SafetensorsTest, RejectsOversizedHeaderLength) {
  const auto path = write_raw(dir_, "huge.safetensors", "{}", {}, int64_t{1} << 40);
  expect_open_error(path, {"header length", std::to_string(int64_t{1} << 40)});
}

TEST_F(SafetensorsTest, RejectsMalformedJson) {
  const auto path = write_raw(dir_, "json.safetensors", "{\"a\": {\"dtype\": ", {});
  expect_open_error(path, {"header", "malformed JSON"});
}

TEST_F(SafetensorsTest, RejectsNumberOverflowInHeader) {
  // Found by the fuzz target: nlohmann reports an overflowing number as out_of_range, not parse_error.
  const auto path = write_raw(dir_, "overflow_number.safetensors", "555555e55555", {});
  expect_open_error(path, {"header"});
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  const auto path =
      write_raw(dir_, "dtype.safetensors", R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", {0});
  expect_open_error(path, {"w.dtype", "F8_E4M3", "F32"});
}

TEST_F(SafetensorsTest, RejectsShapeThatDisagreesWithSpan) {
  const auto path = write_raw(dir_, "span.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                              std::vector<uint8_t>(8));
  expect_open_error(path, {"w", "byte span of 8", "[3]"});
}

TEST_F(SafetensorsTest, RejectsSpanOutsideDataArea) {
  const auto path = write_raw(dir_, "outside.safetensors",
                              R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::vector<uint8_t>(8));
  expect_open_error(path, {"w.data_offsets", "data area of 8 bytes"});
}

TEST_F(SafetensorsTest, RejectsOverlappingSpans) {
  const auto path = write_raw(
      dir_, "overlap.safetensors",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::vector<uint8_t>(12));
  expect_open_error(path, {"b.data_offsets", "overlap"});
}

TEST_F(SafetensorsTest, RejectsOverflowingShape) {
  const auto path =
      write_raw(dir_, "overflow.safetensors",
                R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", {});
  expect_open_error(path, {"w", "byte span of 0"});
}

TEST_F(SafetensorsTest, NamesMissingTensorAndWrongShape) {
  SafetensorsWriter writer;
  writer.add("present", Tensor({2, 2}));
  const std::string path = dir_ + "/names.safetensors";
  writer.write(path);
  const auto file = SafetensorsFile::open(path);
  try {
    file.load_float("absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos);
  }
  try {
    file.load_float("present", {4});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("found [2, 2], expected [4]"), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, RefusesFifoAndDirectoryWithoutBlocking) {
  const std::string fifo = dir_ + "/model.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_open_error(fifo, {"file type: found not a regular file, expected a regular safetensors file"});
  expect_open_error(dir_, {"file type: found not a regular file"});
}

TEST_F(SafetensorsTest, ReadsTheRealCheckpoint) {
  FQVIT_REQUIRE_SHARED(shared);
  const auto file = SafetensorsFile::open(shared + "/models/vit_tiny_patch16_224/model.safetensors");
  EXPECT_EQ(file.tensors().size(), 152u);  // SOURCE.md: 152 tensors, all F32
  int64_t params = 0;
  for (const auto& t : file.tensors()) {
    EXPECT_EQ(t.dtype, DType::kF32) << t.name;
    params += shape_numel(t.shape);
  }
  EXPECT_EQ(params, 5717416);  // SOURCE.md's parameter count
}

}  // namespace
}  // namespace fqvit
