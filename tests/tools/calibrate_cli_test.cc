// fqvit-calibrate's command line: bad input exits 1 with one clear line; a short folder warns, calibrates on what is
// there and records it in the file's metadata.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"
#include "fqvit/io/safetensors.h"
#include "safetensors_edit.h"
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
  const Result r =
      run("--model " + small_model() + " --calib " + dir + "/calib --images 10 --batch-size 2 --out " + out);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fewer than the 10 asked for"), std::string::npos) << r.output;
  const auto f = SafetensorsFile::open(out);
  const auto cal = nlohmann::json::parse(f.metadata().at("calibration"));
  EXPECT_EQ(cal.at("images_requested").get<int>(), 10);
  EXPECT_EQ(cal.at("images_used").get<int>(), 3);
  EXPECT_EQ(cal.at("order").get<std::string>(), "shuffle");
  EXPECT_EQ(cal.at("numerics").get<std::string>(), "torch");
}

namespace fs = std::filesystem;

// A scratch copy of the small checkpoint (tests may damage or edit it) and an ImageFolder of `good` readable and
// `broken` unreadable images, in two class folders.
struct Scratch {
  std::string dir, model, calib;
};

Scratch make_scratch(const std::string& name, int good, int broken) {
  Scratch s;
  s.dir = testing::scratch_dir(name);
  s.model = s.dir + "/model";
  s.calib = s.dir + "/calib";
  fs::copy(small_model(), s.model);
  const std::string images = testing::source_dir() + "/tests/data/images/";
  const char* sources[] = {"rgb8_13x11.png", "rgb420_37x23.jpg", "gray_29x17.jpg", "rgb422_45x29.jpg"};
  for (int i = 0; i < good; ++i) {
    const std::string cls = s.calib + (i % 2 ? "/n02" : "/n01");
    fs::create_directories(cls);
    const std::string src = sources[i % 4];
    fs::copy_file(images + src, cls + "/" + std::to_string(i) + "_" + src);
  }
  for (int i = 0; i < broken; ++i) {
    fs::create_directories(s.calib + "/n01");
    std::ofstream(s.calib + "/n01/broken" + std::to_string(i) + ".jpg") << "\xff\xd8\xff\xe0 not a JPEG";
  }
  return s;
}

std::string file_bytes(const std::string& path) { return testing::read_text(path); }

TEST(CalibrateCli, OutputOverTheCheckpointIsRefusedAndLeavesItIntact) {
  const Scratch s = make_scratch("cli_out_is_input", 3, 0);
  const std::string ckpt = s.model + "/model.safetensors";
  const std::string before = file_bytes(ckpt);
  // By another spelling, and by a hard link: identity, not string comparison.
  fs::create_hard_link(ckpt, s.dir + "/link.safetensors");
  for (const std::string& out : {ckpt, s.model + "/./model.safetensors", s.dir + "/link.safetensors"}) {
    const Result r = run("--model " + s.model + " --calib " + s.calib + " --batch-size 2 --out " + out);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find(out + ": --out: found the same file as --model " + ckpt +
                            ", expected an output that is not an input"), std::string::npos) << r.output;
  }
  EXPECT_EQ(file_bytes(ckpt), before);
}

TEST(CalibrateCli, OutputFolderIsCheckedBeforeCalibrating) {
  const Scratch s = make_scratch("cli_out_folder", 3, 0);
  const Result r = run("--model " + s.model + " --calib " + s.calib + " --batch-size 2 --out " + s.dir +
                       "/missing/q.safetensors");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("missing/q.safetensors: --out: found folder " + s.dir +
                          "/missing does not exist, expected an existing folder to write into"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("calibrated "), std::string::npos) << "no calibration should run: " << r.output;
}

TEST(CalibrateCli, FlagsAreRangeCheckedAsInEval) {
  const Scratch s = make_scratch("cli_flags", 3, 0);
  const std::string base = "--model " + s.model + " --calib " + s.calib + " --out " + s.dir + "/q.safetensors ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--threads -1", "command line: --threads: found -1, expected 0..1024"},
      {"--decode-threads 0", "command line: --decode-threads: found 0, expected 1..64"},
      {"--seed -1", "command line: --seed: found -1, expected 0..9223372036854775807"},
      {"--batch-size 0", "command line: --batch-size: found 0, expected 1..4096"},
      {"--batch 0", "command line: --batch-size: found 0, expected 1..4096"},  // the old spelling, same check
      {"--images 0", "command line: --images: found 0, expected 1.."},
      {"--ptf --no-ptf", "command line: --ptf / --no-ptf: found 2 times, expected at most once"},
      {"--no-lis --lis", "command line: --lis / --no-lis: found 2 times, expected at most once"},
      {"--threads x", "fqvit-calibrate: error: command line: "},
  };
  for (const auto& [flags, message] : cases) {
    const Result r = run(base + flags);
    EXPECT_EQ(r.code, 1) << flags << ": " << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << flags << ": " << r.output;
    EXPECT_FALSE(fs::exists(s.dir + "/q.safetensors")) << flags;
  }
}

TEST(CalibrateCli, OldBatchSpellingStillWorksAndHelpShowsDefaults) {
  const Scratch s = make_scratch("cli_batch_alias", 3, 0);
  const Result r = run("--model " + s.model + " --calib " + s.calib + " --batch 2 --out " + s.dir + "/q.safetensors");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto cal = nlohmann::json::parse(SafetensorsFile::open(s.dir + "/q.safetensors").metadata().at("calibration"));
  EXPECT_EQ(cal.at("batch_size").get<int>(), 2);
  const Result help = run("--help");
  EXPECT_EQ(help.code, 0);
  for (const char* shown : {"--batch-size INT=100", "--images INT=1000", "--seed INT=0", "--w-bits INT=8",
                            "--attn-bits INT=4", "--numerics TEXT=torch", "--decode-threads INT=1"}) {
    EXPECT_NE(help.output.find(shown), std::string::npos) << shown << " in " << help.output;
  }
  EXPECT_EQ(help.output.find("--batch "), std::string::npos) << "the old spelling is hidden: " << help.output;
}

TEST(CalibrateCli, NoReadableImagesIsAnErrorAndWritesNothing) {
  const Scratch s = make_scratch("cli_unreadable", 0, 2);
  const Result r = run("--model " + s.model + " --calib " + s.calib + " --out " + s.dir + "/q.safetensors");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("calib: last calibration batch: found no readable image (2 unreadable), expected at least "
                          "one readable image in it"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(s.dir + "/q.safetensors"));
}

TEST(CalibrateCli, FewerReadableImagesThanOneBatchIsAnError) {
  const Scratch s = make_scratch("cli_short_batch", 1, 2);
  const Result r = run("--model " + s.model + " --calib " + s.calib + " --batch-size 3 --out " + s.dir +
                       "/q.safetensors");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("calib: readable calibration images: found 1 (2 of 3 unreadable), expected at least 3 "
                          "(one batch, --batch-size)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(s.dir + "/q.safetensors"));
}

TEST(CalibrateCli, InputSizeDisagreeingWithTheCheckpointIsRefused) {
  const Scratch s = make_scratch("cli_input_size", 3, 0);
  std::string config = file_bytes(s.model + "/config.json");
  const std::string from = "64,\n      64";  // pretrained_cfg.input_size's two sides
  const auto at = config.find(from);
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, from.size(), "16,\n      16");
  std::ofstream(s.model + "/config.json") << config;
  const Result r = run("--model " + s.model + " --calib " + s.calib + " --batch-size 2 --out " + s.dir +
                       "/q.safetensors");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("config.json: pretrained_cfg.input_size: found [3, 16, 16], expected [3, 64, 64]"),
            std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(s.dir + "/q.safetensors"));
}

TEST(CalibrateCli, NanWeightIsRefusedByName) {
  const Scratch s = make_scratch("cli_nan_weight", 3, 0);
  const std::string ckpt = s.model + "/model.safetensors";
  testing::rewrite_safetensors(small_model() + "/model.safetensors", ckpt, [](const std::string& name, Tensor& t) {
    if (name == "blocks.0.mlp.fc1.weight") t[3] = std::numeric_limits<float>::quiet_NaN();
  });
  const Result r = run("--model " + s.model + " --calib " + s.calib + " --batch-size 2 --out " + s.dir +
                       "/q.safetensors");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("model.safetensors: blocks.0.mlp.fc1.weight: found value nan at flat index 3, expected "
                          "finite numbers"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(s.dir + "/q.safetensors"));
}

// --report on the demo model with every extension on: the JSON diagnosis covers every quantizer, worst first, on
// the asked number of calibration images; the table goes to stdout; a markdown report file is written too.
TEST(CalibrateCli, ReportDiagnosesEveryQuantizerWorstFirst) {
  const std::string dir = testing::scratch_dir("cli_report");
  const std::string demo = testing::source_dir() + "/demo";
  const std::string common = "--model " + demo + "/models/vit_micro --calib " + demo + "/data/calib --class-list " +
                             demo + "/data/classes.txt --config " + testing::source_dir() +
                             "/configs/fqvit_plus.json --images 20 --batch-size 10 --numerics fast --report-images 8 ";
  const Result r = run(common + "--report " + dir + "/report.json --out " + dir + "/q.safetensors");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("worst own SQNR first"), std::string::npos) << r.output;
  std::ifstream in(dir + "/report.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("images").get<int>(), 8);
  // vit_micro: 4 blocks x 11 points + 6 model-level points, 4 x 4 + 2 weights.
  const auto& rows = j.at("quantizers");
  EXPECT_EQ(rows.size(), 4u * 11 + 6 + 4 * 4 + 2);
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_LE(rows[i - 1].at("own_sqnr_db").get<double>(), rows[i].at("own_sqnr_db").get<double>());
  }
  const Result md = run(common + "--report " + dir + "/report.md --out " + dir + "/q2.safetensors");
  ASSERT_EQ(md.code, 0) << md.output;
  std::ifstream table(dir + "/report.md");
  const std::string text((std::istreambuf_iterator<char>(table)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| blocks.0.mlp.qact1 "), std::string::npos) << text.substr(0, 400);
  expect_error(common + "--report-images 0 --report " + dir + "/r.json --out " + dir + "/q3.safetensors",
               "--report-images");
}

}  // namespace
}  // namespace fqvit
