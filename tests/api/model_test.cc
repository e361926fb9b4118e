// fqvit::Model (include/fqvit/fqvit.h) against the CLI: the same logits bit for bit as fqvit-eval --save-logits for
// files, the same again through pre-cropped NHWC bytes and decoded-image views; top-k order and names; structured
// errors; concurrent calls on one loaded model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "api_fixture.h"
#include "fqvit/fqvit.h"
#include "fqvit/io/image.h"
#include "fqvit/io/preprocess.h"
#include "fqvit/io/safetensors.h"

namespace fqvit {
namespace {

using testing::api_data;

#define REQUIRE_API_DATA()                                         \
  const testing::ApiData& data = api_data();                       \
  ASSERT_TRUE(data.error.empty()) << "fqvit-calibrate failed:\n" << data.error

// fqvit-eval's logits for every image of the data folder, as one batch.
std::vector<float> cli_logits(const testing::ApiData& data, const std::string& model, const std::string& engine,
                              const std::string& name) {
  const std::string out = testing::scratch_dir("api_cli_" + name) + "/logits.safetensors";
  const auto r = testing::run_cli("fqvit-eval", "--model " + model + " --engine " + engine + " --data " + data.data +
                                                    " --batch-size " + std::to_string(data.images.size()) +
                                                    " --threads 1 --save-logits " + out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return {};
  const Tensor t = SafetensorsFile::open(out).load_float("logits");
  return {t.data(), t.data() + t.numel()};
}

void expect_bits_equal(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what << ": logits differ in bits";
}

TEST(ApiModel, QuantizedFileLogitsEqualTheCliBitForBit) {
  REQUIRE_API_DATA();
  const Model model = Model::load(data.quantized, one_thread());
  EXPECT_EQ(model.architecture(), "vit_test_tiny");
  EXPECT_EQ(model.input_size(), 64);
  EXPECT_EQ(model.num_classes(), 10);
  const Logits logits = model.logits_files(data.images);
  EXPECT_EQ(logits.images, static_cast<int64_t>(data.images.size()));
  EXPECT_EQ(logits.classes, 10);
  expect_bits_equal(logits.values, cli_logits(data, data.quantized, model.engine(), "quant"), "quantized file");
  if (model.engine() == "int") {  // the integer engine also gives its int32 scores: values = scale * codes
    ASSERT_EQ(logits.codes.size(), logits.values.size());
    EXPECT_GT(logits.scale, 0.0f);
    for (size_t i = 0; i < logits.codes.size(); ++i) {
      EXPECT_EQ(logits.values[i], static_cast<float>(logits.codes[i]) * logits.scale) << i;
    }
  } else {
    EXPECT_TRUE(logits.codes.empty());
  }
}

TEST(ApiModel, CheckpointDirectoryRunsFp32LikeTheCli) {
  REQUIRE_API_DATA();
  const Model model = Model::load(data.checkpoint, one_thread());
  EXPECT_EQ(model.engine(), "fp32");
  expect_bits_equal(model.logits_files(data.images).values, cli_logits(data, data.checkpoint, "fp32", "fp32"),
                    "checkpoint");
}

TEST(ApiModel, PreCroppedNhwcAndImageViewsGiveTheFileLogits) {
  REQUIRE_API_DATA();
  const Model model = Model::load(data.quantized, one_thread());
  const Logits from_files = model.logits_files(data.images);
  PreprocessConfig pre;  // the committed model's pretrained_cfg: bicubic, crop 0.9, mean = std = 0.5
  pre.input_size = 64;
  pre.crop_pct = 0.9;
  pre.mean = {0.5f, 0.5f, 0.5f};
  pre.std = {0.5f, 0.5f, 0.5f};
  std::vector<uint8_t> nhwc;
  std::vector<DecodedImage> decoded;
  for (const std::string& path : data.images) {
    const RgbImage crop = resize_and_crop(decode_image_file(path), pre);  // what a user's own pipeline would do
    ASSERT_EQ(crop.width, 64);
    nhwc.insert(nhwc.end(), crop.pixels.begin(), crop.pixels.end());
    decoded.push_back(read_image(path));
  }
  expect_bits_equal(model.logits(nhwc).values, from_files.values, "NHWC uint8");
  std::vector<ImageView> views;
  for (const DecodedImage& d : decoded) views.push_back(d.view());
  expect_bits_equal(model.logits(views).values, from_files.values, "image views");
}

TEST(ApiModel, TopKIsSortedWithNamesAndProbabilities) {
  REQUIRE_API_DATA();
  const Model model = Model::load(data.quantized, with_classes(data.class_list));
  ASSERT_EQ(model.class_names().size(), 10u);
  EXPECT_EQ(model.class_names()[3], "class number 3");
  const Logits logits = model.logits_files(data.images);
  const auto top = model.top_k(logits, 5);
  ASSERT_EQ(top.size(), data.images.size());
  for (size_t i = 0; i < top.size(); ++i) {
    ASSERT_EQ(top[i].size(), 5u);
    const float* row = logits.row(static_cast<int64_t>(i));
    // Independent softmax and argmax (first largest, as torch.argmax).
    const int64_t best = std::max_element(row, row + 10) - row;
    double sum = 0;
    for (int c = 0; c < 10; ++c) sum += std::exp(static_cast<double>(row[c]) - row[best]);
    EXPECT_EQ(top[i][0].index, best);
    EXPECT_NEAR(top[i][0].probability, 1.0 / sum, 1e-6);
    for (size_t j = 0; j < 5; ++j) {
      EXPECT_EQ(top[i][j].logit, row[top[i][j].index]);
      EXPECT_EQ(top[i][j].name, "class number " + std::to_string(top[i][j].index));
      if (j > 0) {
        EXPECT_GE(top[i][j - 1].logit, top[i][j].logit);
      }
    }
  }
  EXPECT_EQ(model.top_k(logits, 50)[0].size(), 10u);  // k clamps to the class count
  const auto files = model.classify_files(std::vector<std::string>{data.images[0]}, 3);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0][0].index, top[0][0].index);
}

// The error's four parts, checked field by field.
template <typename Fn>
void expect_error(Fn&& fn, const std::string& file, const std::string& field, const std::string& found_part,
                  const std::string& expected_part) {
  try {
    fn();
    ADD_FAILURE() << "no fqvit::Error thrown (" << field << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), file) << e.what();
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(e.found().find(found_part), std::string::npos) << e.what();
    EXPECT_NE(e.expected().find(expected_part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()), e.file() + ": " + e.field() + ": found " + e.found() + ", expected " + e.expected());
  }
}

TEST(ApiModel, BadInputThrowsOneStructuredError) {
  REQUIRE_API_DATA();
  expect_error([] { Model::load("/nonexistent/model.safetensors"); }, "/nonexistent/model.safetensors", "model",
               "nothing", "quantized model file");
  expect_error([&] { Model::load(data.checkpoint, engine_named("fake")); }, data.checkpoint, "--model",
               "a float checkpoint directory", "quantized model file");
  expect_error([&] { Model::load(data.quantized, numerics_named("fastest")); }, "fqvit::Model",
               "LoadOptions::numerics", "fastest", "fast");
  const std::string short_list = testing::scratch_dir("api_errors") + "/classes.txt";
  std::ofstream(short_list) << "0 w0 zero\n1 w1 one\n";
  expect_error([&] { Model::load(data.quantized, with_classes(short_list)); }, short_list, "class list",
               "2 classes", "10");
  const Model model = Model::load(data.quantized, one_thread());
  const std::vector<uint8_t> odd(64 * 64 * 3 + 1, 0);
  expect_error([&] { model.logits(odd); }, "fqvit::Model", "logits(nhwc)", "12289 bytes", "12288");
  expect_error([&] { model.logits_files(std::vector<std::string>{}); }, "fqvit::Model", "logits_files(paths)",
               "an empty batch", "at least one");
  const std::string missing = data.dir + "/missing.jpg";
  try {
    model.logits_files(std::vector<std::string>{missing});
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), missing) << e.what();
  }
  const std::vector<uint8_t> pixels(12, 0);
  const std::vector<ImageView> bad_view = {{pixels.data(), 0, 4}};
  expect_error([&] { model.logits(bad_view); }, "fqvit::Model", "images[0]", "0 x 4", "positive size");
}

TEST(ApiModel, ConcurrentCallsOnOneModelGiveTheSequentialResults) {
  REQUIRE_API_DATA();
  const Model model = Model::load(data.quantized, one_thread());
  // Batches of 1, 2 and 3 images, computed alone first.
  std::vector<std::vector<std::string>> batches;
  for (size_t n = 1; n <= 3; ++n) batches.emplace_back(data.images.begin() + n, data.images.begin() + 2 * n);
  std::vector<std::vector<float>> expected;
  for (const auto& b : batches) expected.push_back(model.logits_files(b).values);
  constexpr int kThreads = 4, kRounds = 6;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Model copy = model;  // copies share the loaded state
      for (int r = 0; r < kRounds; ++r) {
        const size_t which = static_cast<size_t>(t + r) % batches.size();
        const std::vector<float> got = (t % 2 ? copy : model).logits_files(batches[which]).values;
        if (got.size() != expected[which].size() ||
            std::memcmp(got.data(), expected[which].data(), got.size() * sizeof(float)) != 0) {
          failures[static_cast<size_t>(t)] = "thread " + std::to_string(t) + " round " + std::to_string(r);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f << ": logits differ from the sequential call";
}

}  // namespace
}  // namespace fqvit
