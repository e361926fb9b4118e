// fqvit::calibrate and fqvit::evaluate against the CLIs: the API's quantized file runs to the same logits as
// fqvit-calibrate's (same images, same order), whether the images come as a folder + list or as paths; evaluate()
// returns fqvit-eval --json's object; bad options are structured errors with no output file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "api_fixture.h"
#include "fqvit/eval/eval_record.h"
#include "fqvit/fqvit.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;
using testing::api_data;

#define REQUIRE_API_DATA()                                         \
  const testing::ApiData& data = api_data();                       \
  ASSERT_TRUE(data.error.empty()) << "fqvit-calibrate failed:\n" << data.error

std::vector<float> logits_of(const std::string& file, const std::vector<std::string>& images) {
  return Model::load(file, one_thread()).logits_files(images).values;
}

TEST(ApiCalibrate, SameQuantizersAsTheCli) {
  REQUIRE_API_DATA();
  const std::string dir = testing::scratch_dir("api_calibrate");
  CalibrateOptions o;
  o.model = data.checkpoint;
  o.images_dir = data.data;
  o.calib_list = data.calib_list;
  o.batch = 8;
  o.threads = 1;
  o.out = dir + "/from_folder.safetensors";
  const CalibrationSummary s = calibrate(o);
  EXPECT_EQ(s.images, static_cast<int64_t>(data.images.size()));
  EXPECT_TRUE(fs::exists(o.out));

  // The list order as full paths.
  CalibrateOptions by_paths = o;
  by_paths.images_dir.clear();
  by_paths.calib_list.clear();
  std::ifstream list(data.calib_list);
  for (std::string line; std::getline(list, line);) by_paths.image_paths.push_back(data.data + "/" + line);
  by_paths.out = dir + "/from_paths.safetensors";
  calibrate(by_paths);

  const std::vector<float> cli = logits_of(data.quantized, data.images);
  for (const std::string& file : {o.out, by_paths.out}) {
    const std::vector<float> api = logits_of(file, data.images);
    ASSERT_EQ(api.size(), cli.size());
    EXPECT_EQ(std::memcmp(api.data(), cli.data(), api.size() * sizeof(float)), 0) << file;
  }

  // Settings reach the file: W4 changes the weights, so the logits.
  CalibrateOptions w4 = o;
  w4.w_bits = 4;
  w4.out = dir + "/w4.safetensors";
  calibrate(w4);
  const std::vector<float> four = logits_of(w4.out, data.images);
  EXPECT_NE(std::memcmp(four.data(), cli.data(), cli.size() * sizeof(float)), 0);
}

TEST(ApiCalibrate, BadOptionsThrowAndWriteNothing) {
  REQUIRE_API_DATA();
  const std::string dir = testing::scratch_dir("api_calibrate_bad");
  CalibrateOptions o;
  o.model = data.checkpoint;
  o.images_dir = data.data;
  o.out = dir + "/q.safetensors";
  o.w_bits = 9;
  try {
    calibrate(o);
    ADD_FAILURE() << "w_bits 9 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.found(), "9") << e.what();
  }
  o.w_bits = 0;
  o.image_paths = {data.images[0]};
  try {
    calibrate(o);
    ADD_FAILURE() << "both image sources accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "images_dir / image_paths") << e.what();
    EXPECT_EQ(e.found(), "both");
  }
  o.images_dir.clear();
  o.image_paths = {data.images[0], dir + "/none.jpg"};
  try {
    calibrate(o);
    ADD_FAILURE() << "a missing image accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), dir + "/none.jpg") << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(ApiEvaluate, ReturnsTheCliJsonObject) {
  REQUIRE_API_DATA();
  const std::string dir = testing::scratch_dir("api_evaluate");
  EvaluateOptions o;
  o.model = data.quantized;
  o.data = data.data;
  o.engine = Model::load(data.quantized).engine();
  o.batch_size = 4;
  o.threads = 1;
  const EvaluationReport report = evaluate(o);
  const auto r = testing::run_cli("fqvit-eval", "--model " + o.model + " --engine " + o.engine + " --data " + o.data +
                                                    " --batch-size 4 --threads 1 --json " + dir + "/cli.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto cli = nlohmann::json::parse(testing::read_text(dir + "/cli.json"));
  auto api = nlohmann::json::parse(report.json);
  for (auto* j : {&cli, &api}) {  // timings differ between runs
    for (const std::string& key : eval_timing_keys()) {
      ASSERT_TRUE(j->contains(key)) << key;
      j->erase(key);
    }
  }
  EXPECT_EQ(api, cli);
  EXPECT_EQ(report.images, static_cast<int64_t>(data.images.size()));
  EXPECT_EQ(report.top1, cli["top1"].get<double>());
}

}  // namespace
}  // namespace fqvit
