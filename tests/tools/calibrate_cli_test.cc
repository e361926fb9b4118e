// fqvit-calibrate's command line: bad input exits 1 with one clear line; a short folder warns, calibrates on what is
// there and records it in the file's metadata.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

struct Result {
  int code;
  std::string output;
};

Result run(const std::string& args) {
  const std::string cmd = std::string(FQVIT_BINARY_DIR) + "/fqvit-calibrate " + args + " 2>&1";
  Result r{-1, {}};
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) r.output += buf;
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string small_model() { return testing::source_dir() + "/tests/data/models/vit_small_random_committed"; }

void expect_error(const std::string& args, const std::string& needle) {
  const Result r = run(args);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
}

TEST(CalibrateCli, RejectsBitsOutsideRange) {
  const std::string dir = testing::scratch_dir("cli_bits");
  expect_error("--model " + small_model() + " --calib " + dir + " --out " + dir + "/q.safetensors --w-bits 9",
               "w_bits: found 9, expected 2..8");
  expect_error("--model " + small_model() + " --calib " + dir + " --out " + dir + "/q.safetensors --attn-bits 1",
               "attn_bits: found 1, expected 2..8");
}

TEST(CalibrateCli, RejectsUnknownMethod) {
  const std::string dir = testing::scratch_dir("cli_method");
  expect_error("--model " + small_model() + " --calib " + dir + " --out " + dir + "/q.safetensors --method kl",
               "method: found kl");
}

TEST(CalibrateCli, RejectsUnknownNumerics) {
  const std::string dir = testing::scratch_dir("cli_numerics");
  expect_error("--model " + small_model() + " --calib " + dir + " --out " + dir + "/q.safetensors --numerics exact",
               "command line: --numerics: found \"exact\", expected fast or torch");
  EXPECT_FALSE(std::filesystem::exists(dir + "/q.safetensors"));
}

TEST(CalibrateCli, RejectsEmptyOrMissingFolder) {
  const std::string dir = testing::scratch_dir("cli_empty");
  std::filesystem::create_directories(dir + "/n01440764");
  const Result r = run("--model " + small_model() + " --calib " + dir + " --out " + dir + "/q.safetensors");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error"), std::string::npos) << r.output;
  expect_error("--model " + small_model() + " --calib " + dir + "/nope --out " + dir + "/q.safetensors", "error");
  EXPECT_FALSE(std::filesystem::exists(dir + "/q.safetensors"));
}

TEST(CalibrateCli, ShortFolderWarnsAndRecordsImagesUsed) {
  FQVIT_REQUIRE_SHARED(shared);
  const std::string dir = testing::scratch_dir("cli_short");
  // Three real calibration images in a scratch ImageFolder (build tree only).
  int copied = 0;
  for (const auto& cls : std::filesystem::directory_iterator(shared + "/imagenet/calib")) {
    if (copied == 3) break;
    for (const auto& img : std::filesystem::directory_iterator(cls.path())) {
      std::filesystem::create_directories(dir + "/calib/" + cls.path().filename().string());
      std::filesystem::copy_file(img.path(), dir + "/calib/" + cls.path().filename().string() + "/" +
                                                 img.path().filename().string());
      ++copied;
      break;
    }
  }
  const std::string out = dir + "/q.safetensors";
  const Result r = run("--model " + small_model() + " --calib " + dir + "/calib --images 10 --batch 2 --out " + out);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fewer than the 10 asked for"), std::string::npos) << r.output;
  const auto f = SafetensorsFile::open(out);
  const auto cal = nlohmann::json::parse(f.metadata().at("calibration"));
  EXPECT_EQ(cal.at("images_requested").get<int>(), 10);
  EXPECT_EQ(cal.at("images_used").get<int>(), 3);
  EXPECT_EQ(cal.at("order").get<std::string>(), "shuffle");
  EXPECT_EQ(cal.at("numerics").get<std::string>(), "torch");
}

}  // namespace
}  // namespace fqvit
