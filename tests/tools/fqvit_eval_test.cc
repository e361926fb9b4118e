// fqvit-eval end to end: ImageNet accuracy against the reference, output files, corrupt images, bad arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::run_cli;

constexpr double kTop1Tolerance = 0.2;           // points, against the reference's FP32 figure (the bound)
constexpr double kMinPredictionAgreement = 0.99;  // per-image top-1 against the reference's predictions

std::string demo_model() { return testing::source_dir() + "/tests/data/models/vit_small_random_committed"; }

TEST(FqvitEval, ImageNetFp32MatchesReference) {
  FQVIT_REQUIRE_SHARED(shared);
  const std::string dir = testing::scratch_dir("eval_imagenet");
  const auto r = run_cli("fqvit-eval", "--model " + shared + "/models/vit_tiny_patch16_224 --data " + shared +
                                           "/imagenet/val --labels " + shared + "/imagenet/val_labels.txt --json " +
                                           dir + "/r.json --save-logits " + dir + "/logits.safetensors --batch-size 25");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(read_text(dir + "/r.json"));
  const auto ref = nlohmann::json::parse(read_text(shared + "/reference/fqvit_reference_results.json"));
  nlohmann::json fp32;
  for (const auto& entry : ref["results"]) {
    if (entry["id"] == "fp32") fp32 = entry;
  }
  ASSERT_FALSE(fp32.is_null());
  EXPECT_EQ(json["images"], 650);
  EXPECT_NEAR(json["top1"].get<double>(), fp32["top1"].get<double>(), kTop1Tolerance);
  EXPECT_NEAR(json["top5"].get<double>(), fp32["top5"].get<double>(), kTop1Tolerance);
  for (const char* key : {"top1", "top5", "images", "top1_correct", "top5_correct", "images_per_second", "engine",
                          "model"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }

  const auto logits_file = SafetensorsFile::open(dir + "/logits.safetensors");
  const Tensor logits = logits_file.load_float("logits");
  ASSERT_EQ(logits.shape(), (Shape{650, 1000}));
  const auto paths = nlohmann::json::parse(logits_file.metadata().at("images"));
  ASSERT_EQ(paths.size(), 650u);
  EXPECT_EQ(paths[0], "n01440764/ILSVRC2012_val_00024327.JPEG");  // val_labels.txt order
  const auto& expected = fp32["top1_pred"];
  int agree = 0;
  for (int64_t i = 0; i < 650; ++i) {
    const float* row = logits.data() + i * 1000;
    agree += (std::max_element(row, row + 1000) - row) == expected[static_cast<size_t>(i)].get<int64_t>();
  }
  EXPECT_GE(agree, kMinPredictionAgreement * 650) << agree << " of 650 predictions agree";
}

class FqvitEvalSmall : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::scratch_dir("eval_small");
    const std::string images = testing::source_dir() + "/tests/data/images/";
    fs::create_directories(dir_ + "/data/a");
    fs::create_directories(dir_ + "/data/b");
    fs::copy_file(images + "rgb8_13x11.png", dir_ + "/data/a/one.png");
    fs::copy_file(images + "rgb420_37x23.jpg", dir_ + "/data/b/two.jpg");
    fs::copy_file(images + "gray_29x17.jpg", dir_ + "/data/b/three.jpg");
    std::ofstream(dir_ + "/data/b/broken.jpg") << "\xff\xd8\xff\xe0 this is not a JPEG";
  }
  std::string dir_;
};

TEST_F(FqvitEvalSmall, CorruptImageIsReportedSkippedAndCounted) {
  const auto r = run_cli("fqvit-eval", "--model " + demo_model() + " --data " + dir_ + "/data --json " + dir_ +
                                           "/r.json --save-logits " + dir_ + "/l.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("broken.jpg"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped 1 unreadable image"), std::string::npos) << r.output;
  const auto json = nlohmann::json::parse(read_text(dir_ + "/r.json"));
  EXPECT_EQ(json["images"], 3);
  EXPECT_EQ(json["skipped"], 1);
  const auto logits = SafetensorsFile::open(dir_ + "/l.safetensors");
  EXPECT_EQ(logits.info("logits").shape, (Shape{3, 10}));
}

TEST_F(FqvitEvalSmall, BadArgumentsFailCleanlyWithoutOutputFiles) {
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--model " + demo_model() + " --data " + dir_ + "/nowhere", "nowhere: dataset folder: found no such directory"},
      {"--model " + dir_ + "/no_model --data " + dir_ + "/data", "no_model: --model: found not a directory"},
      {"--model " + demo_model() + " --data " + dir_ + "/data --engine int8", "--engine: found int8"},
      {"--model " + demo_model() + " --data " + dir_ + "/data --numerics exact",
       "command line: --numerics: found \"exact\", expected fast or torch"},
      {"--model " + demo_model() + " --data " + dir_ + "/data --labels " + dir_ + "/none.txt", "none.txt: label file"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli("fqvit-eval", c.args + " --json " + dir_ + "/out.json");
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir_ + "/out.json")) << c.args;
  }
}

// A quantized file whose metadata has a mistyped key: fqvit-eval names file, field, found and expected, exits 1
// (an input error, not an internal one) and writes no output.
TEST_F(FqvitEvalSmall, MistypedQuantizedFileKeyIsAnInputError) {
  auto model = load_model(demo_model());
  Calibrator calib(*model, QuantSettings{});
  calib.observe(SafetensorsFile::open(demo_model() + "/golden.safetensors").load_float("input"), true);
  const std::string good = dir_ + "/q.safetensors", bad = dir_ + "/bad.safetensors";
  CalibrationInfo info;
  info.order = "test";
  save_quantized_model(good, demo_model(), *model, calib.finish(), info);
  const auto f = SafetensorsFile::open(good);
  SafetensorsWriter w;
  for (const TensorInfo& t : f.tensors()) w.add_raw(t.name, t.dtype, t.shape, f.bytes(t.name));
  for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
  auto q = nlohmann::json::parse(f.metadata().at("quantizers"));
  q["weights"]["head"]["shape"] = "[10, 64]";
  w.set_metadata("quantizers", q.dump());
  w.write(bad);
  const auto r = run_cli("fqvit-eval", "--engine fake --model " + bad + " --data " + dir_ + "/data --json " + dir_ +
                                           "/out.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad.safetensors: __metadata__.quantizers.weights.head.shape: found string, expected a "
                          "JSON array"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir_ + "/out.json"));
}

}  // namespace
}  // namespace fqvit
