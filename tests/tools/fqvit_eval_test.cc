// fqvit-eval end to end: ImageNet accuracy against the reference, output files, corrupt images, bad arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/io/safetensors.h"
#include "safetensors_edit.h"
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

TEST_F(FqvitEvalSmall, SummaryNamesCountsAndNumerics) {
  const auto r = run_cli("fqvit-eval", "--model " + demo_model() + " --data " + dir_ + "/data --json " + dir_ +
                                           "/r.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(read_text(dir_ + "/r.json"));
  // Built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
  std::string top1 = "(", top5 = "(";
  top1.append(std::to_string(json["top1_correct"].get<int>())).append(" of 3 correct)  top-5 ");
  top5.append(std::to_string(json["top5_correct"].get<int>())).append(" of 3)");
  EXPECT_NE(r.output.find(top1), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(top5), std::string::npos) << r.output;
  EXPECT_EQ(json["numerics"], "fast");  // fp32's default, named rather than "default"
  EXPECT_NE(r.output.find("numerics fast"), std::string::npos) << r.output;
}

TEST_F(FqvitEvalSmall, NoReadableImageSaysWhyAndWritesNothing) {
  fs::create_directories(dir_ + "/bad/a");
  std::ofstream(dir_ + "/bad/a/x.jpg") << "\xff\xd8 not a JPEG";
  const auto r = run_cli("fqvit-eval", "--model " + demo_model() + " --data " + dir_ + "/bad --json " + dir_ +
                                           "/r.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad: readable images: found none of 1 (1 unreadable, see the warnings above), expected at "
                          "least one"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ + "/r.json"));
}

TEST_F(FqvitEvalSmall, LabelsTheModelCannotHaveAreRefused) {
  const std::string base = "--model " + demo_model() + " --data " + dir_ + "/data --json " + dir_ + "/r.json ";
  std::ofstream(dir_ + "/labels.txt") << "a/one.png 3\nb/two.jpg 10\n";  // the model has 10 classes
  auto r = run_cli("fqvit-eval", base + "--labels " + dir_ + "/labels.txt");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("labels.txt: line 2: found label 10, expected an index below 10 (the model's num_classes)"),
            std::string::npos) << r.output;
  std::ofstream(dir_ + "/classes.txt") << "0 a\n12 b\n";
  r = run_cli("fqvit-eval", base + "--class-list " + dir_ + "/classes.txt");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("classes.txt: line 2: found index 12, expected an index below 10"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir_ + "/r.json"));
}

TEST_F(FqvitEvalSmall, OutputsThatAreInputsOrEachOtherAreRefused) {
  const std::string base = "--model " + demo_model() + " --data " + dir_ + "/data ";
  std::ofstream(dir_ + "/labels.txt") << "a/one.png 3\n";
  const std::string labels_before = read_text(dir_ + "/labels.txt");
  auto r = run_cli("fqvit-eval", base + "--labels " + dir_ + "/labels.txt --json " + dir_ + "/labels.txt");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("labels.txt: --json: found the same file as --labels"), std::string::npos) << r.output;
  EXPECT_EQ(read_text(dir_ + "/labels.txt"), labels_before);
  r = run_cli("fqvit-eval", base + "--json " + dir_ + "/x --save-logits " + dir_ + "/./x");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--save-logits: found the same file as --json " + dir_ + "/x"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir_ + "/x"));
}

TEST_F(FqvitEvalSmall, BadNumbersGiveOneShortLine) {
  const std::string base = "--model " + demo_model() + " --data " + dir_ + "/data ";
  for (const auto& [flags, message] : std::vector<std::pair<std::string, std::string>>{
           {"--limit -1", "fqvit-eval: error: command line: --limit: found -1, expected 0..2147483647\n"},
           {"--batch-size 0", "fqvit-eval: error: command line: --batch-size: found 0, expected 1..4096\n"},
           {"--threads 5000", "fqvit-eval: error: command line: --threads: found 5000, expected 0..1024\n"}}) {
    const auto r = run_cli("fqvit-eval", base + flags);
    EXPECT_EQ(r.exit_code, 1) << flags << ": " << r.output;
    EXPECT_EQ(r.output, message) << flags;
  }
}

// A quantized file calibrated from the small model, then tampered with one field at a time.
class FqvitEvalQuantized : public FqvitEvalSmall {
 protected:
  void SetUp() override {
    FqvitEvalSmall::SetUp();
    quantized_ = dir_ + "/q.safetensors";
    const auto r = run_cli("fqvit-calibrate", "--model " + demo_model() + " --calib " + dir_ +
                                                  "/data --batch-size 2 --out " + quantized_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // Runs --engine fake on `file`; expects exit 1, `message`, and `file` left byte for byte as it was.
  void expect_refused(const std::string& file, const std::string& extra, const std::string& message) {
    const std::string before = read_text(file);
    const auto r = run_cli("fqvit-eval", "--engine fake --model " + file + " --data " + dir_ + "/data " + extra);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
    EXPECT_EQ(read_text(file), before);
  }
  std::string quantized_;
};

TEST_F(FqvitEvalQuantized, SaveLogitsOverTheModelIsRefused) {
  expect_refused(quantized_, "--save-logits " + quantized_,
                 "q.safetensors: --save-logits: found the same file as --model " + quantized_);
  fs::create_symlink(quantized_, dir_ + "/alias.safetensors");
  expect_refused(quantized_, "--save-logits " + dir_ + "/alias.safetensors",
                 "--save-logits: found the same file as --model");
}

TEST_F(FqvitEvalQuantized, BadWeightScalesAreRefused) {
  const std::string tampered = dir_ + "/bad_scale.safetensors";
  auto tamper = [&](float bad) {
    testing::rewrite_safetensors(quantized_, tampered, [&](const std::string& name, Tensor& t) {
      if (name == "blocks.1.attn.proj.weight_scale") t[5] = bad;
    });
  };
  for (const float bad : {0.0f, -0.5f}) {
    tamper(bad);
    expect_refused(tampered, "", "blocks.1.attn.proj.weight_scale: found scale ");
    expect_refused(tampered, "", " for output channel 5, expected a positive finite number");
  }
  // NaN and inf reach the dequantized weight first, and are named there (channel 5 of a [64, 64] weight).
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    tamper(bad);
    expect_refused(tampered, "", "bad_scale.safetensors (dequantized): blocks.1.attn.proj.weight: found value ");
    expect_refused(tampered, "", " at flat index 32");
  }
}

TEST_F(FqvitEvalQuantized, ModelConfigInputSizeMustMatch) {
  const std::string tampered = dir_ + "/bad_config.safetensors";
  testing::rewrite_safetensors(quantized_, tampered, {}, [](std::map<std::string, std::string>& meta) {
    auto config = nlohmann::json::parse(meta.at("model_config"));
    config["pretrained_cfg"]["input_size"] = {3, 16, 16};
    meta["model_config"] = config.dump();
  });
  expect_refused(tampered, "", "bad_config.safetensors (__metadata__.model_config): pretrained_cfg.input_size: found "
                               "[3, 16, 16], expected [3, 64, 64]");
}

}  // namespace
}  // namespace fqvit
