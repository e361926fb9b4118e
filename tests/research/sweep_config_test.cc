// Sweep configs: the cross product and run keys, the shipped configs, and every kind of bad input named.
#include <gtest/gtest.h>

#include <set>

#include "fqvit/core/error.h"
#include "fqvit/research/sweep_config.h"
#include "test_paths.h"

namespace fqvit {
namespace {

std::string error_of(const std::string& json) {
  try {
    parse_sweep_config(json, "s.json", "");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string config_path(const std::string& name) { return testing::source_dir() + "/configs/sweeps/" + name; }

TEST(SweepConfig, CrossProductOfEveryEntry) {
  const SweepConfig c = parse_sweep_config(R"({
    "models": ["m1", "m2"], "data": "val", "calib": "cal", "engines": ["fp32", "fake"],
    "settings": [{"method": ["minmax", "omse"], "ptf": [false, true], "lis": false, "bits": ["8/8/8", "6/6/4"]},
                 {"method": "ema", "bits": "4/4/4", "layers": {"head": {"bits": 8}}}]})",
                                           "s.json", "/base");
  ASSERT_EQ(c.settings.size(), 2u * 2u * 2u + 1u);
  EXPECT_EQ(c.paths.models[0], "/base/m1");  // relative to the config file
  EXPECT_EQ(c.settings[0].method, "minmax");
  EXPECT_EQ(c.settings[7].method, "omse");
  EXPECT_TRUE(c.settings[7].ptf);
  EXPECT_EQ(c.settings[7].w_bits, 6);
  EXPECT_EQ(c.settings[7].attn_bits, 4);
  EXPECT_TRUE(c.settings[8].ptf && c.settings[8].lis);  // defaults: the paper's FQ-ViT
  EXPECT_EQ(*c.settings[8].layers.at("head").bits, 8);

  const std::vector<SweepRun> runs = expand_runs(c);
  ASSERT_EQ(runs.size(), 2u * (1u + 9u));  // per model: FP32 + one fake run per setting
  EXPECT_EQ(runs[0].engine, "fp32");
  std::set<std::string> keys;
  for (const auto& r : runs) keys.insert(r.key);
  EXPECT_EQ(keys.size(), runs.size()) << "run keys must be distinct";
  EXPECT_EQ(runs[1].label, "MinMax 8/8/8");
  EXPECT_EQ(runs[9].label, "EMA+PTF+LIS (per-layer) 4/4/4");
  // Keys are stable: the same config expands to the same keys.
  const std::vector<SweepRun> again = expand_runs(c);
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].key, again[i].key);
}

// A named entry with extensions (configs/sweeps/plus.json): the name is the row label, the extensions reach the
// settings (and so the run key), and a name on an entry that expands to several settings is refused.
TEST(SweepConfig, NamedSettingsWithExtensions) {
  const SweepConfig c = parse_sweep_config(R"({"models": ["m"], "data": "v", "calib": "c", "engines": ["fake", "int"],
    "settings": [{"bits": "8/8/4"},
                 {"name": "plus", "bits": "8/8/4",
                  "extensions": {"residual_bits": 16, "ptf_zero_point": "channel"}}]})",
                                           "s.json", "");
  ASSERT_EQ(c.settings.size(), 2u);
  EXPECT_EQ(c.settings[1].extensions.residual_bits, 16);
  EXPECT_TRUE(c.settings[1].extensions.ptf_channel_zero_point);
  const auto runs = expand_runs(c);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].label, "MinMax+PTF+LIS 8/8/4");
  EXPECT_EQ(runs[2].label, "plus");
  EXPECT_EQ(runs[3].engine, "int");
  EXPECT_NE(runs[0].calibration_key, runs[2].calibration_key);
  const std::string e = error_of(R"({"settings": [{"name": "two", "bits": ["8/8/4", "6/6/4"]}]})");
  EXPECT_NE(e.find("settings[0].name: found 'two' on 2 settings"), std::string::npos) << e;
  const std::string x = error_of(R"({"settings": [{"extensions": {"residual_bits": 99}}]})");
  EXPECT_NE(x.find("residual_bits"), std::string::npos) << x;
}

TEST(SweepConfig, EnginesShareOneCalibrationPerSetting) {
  SweepConfig c = parse_sweep_config(R"({"models": ["m"], "data": "v", "calib": "c", "engines": ["fake"],
                                         "settings": [{"bits": ["8/8/4", "6/6/4"]}]})",
                                     "s.json", "");
  c.engines = {"fake", "fake2"};  // a second quantized engine, as `int` will be
  const auto runs = expand_runs(c);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].calibration_key, runs[1].calibration_key);
  EXPECT_NE(runs[0].key, runs[1].key);
  EXPECT_NE(runs[0].calibration_key, runs[2].calibration_key);
}

TEST(SweepConfig, ShippedConfigsExpandToThePaperRowsAndTheBitsGrid) {
  SweepConfig paper = load_sweep_config(config_path("paper.json"));
  paper.paths.models = {"m"};
  paper.paths.data = "v";
  paper.paths.calib = "c";
  std::vector<std::string> labels;
  for (const auto& r : expand_runs(paper)) labels.push_back(r.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"FP32", "MinMax 8/8/8", "EMA 8/8/8", "Percentile 8/8/8", "OMSE 8/8/8",
                                              "MinMax+PTF 8/8/8", "MinMax+PTF+LIS 8/8/4"}));
  EXPECT_EQ(paper.calibration.images, 1000);
  EXPECT_EQ(paper.calibration.batch, 100);

  SweepConfig bits = load_sweep_config(config_path("bits.json"));
  bits.paths = paper.paths;
  std::set<std::pair<int, int>> wa;
  std::set<int> attn;
  for (const auto& s : bits.settings) {
    wa.insert({s.w_bits, s.a_bits});
    attn.insert(s.attn_bits);
  }
  EXPECT_EQ(wa, (std::set<std::pair<int, int>>{{4, 4}, {5, 5}, {6, 6}, {7, 7}, {8, 8}}));
  EXPECT_EQ(attn, (std::set<int>{4, 8}));

  const SweepConfig smoke = load_sweep_config(config_path("smoke.json"));
  EXPECT_EQ(smoke.settings.size(), 2u);
  EXPECT_EQ(expand_runs(smoke).size(), 3u);  // runnable as shipped: its paths point at demo/
}

TEST(SweepConfig, UnknownKeysAndValuesAreNamedWithTheAllowedOnes) {
  std::string e = error_of(R"({"modles": ["m"]})");
  EXPECT_NE(e.find("s.json: modles: found an unknown key, expected one of description, models"), std::string::npos)
      << e;
  e = error_of(R"({"settings": [{"method": "minmx"}]})");
  EXPECT_NE(e.find("settings[0].method: found 'minmx', expected one of minmax, ema, percentile, omse"),
            std::string::npos)
      << e;
  e = error_of(R"({"settings": [{"bitz": "8/8/8"}]})");
  EXPECT_NE(e.find("settings[0].bitz: found an unknown key, expected one of method, ptf, lis, bits"),
            std::string::npos)
      << e;
  e = error_of(R"({"engines": ["gpu"], "settings": [{}]})");
  EXPECT_NE(e.find("engines: found 'gpu', expected one of fp32, int, fake"), std::string::npos) << e;
  e = error_of(R"({"settings": [{"bits": "8/8"}]})");
  EXPECT_NE(e.find("settings[0].bits: found '8/8', expected \"weight/activation/attention\""), std::string::npos) << e;
  e = error_of(R"({"settings": [{"bits": "9/8/8"}]})");
  EXPECT_NE(e.find("9"), std::string::npos) << e;
  EXPECT_NE(e.find("2..8"), std::string::npos) << e;
  e = error_of(R"({"settings": [{"ptf": "yes"}]})");
  EXPECT_NE(e.find("settings[0].ptf: found \"yes\", expected true or false"), std::string::npos) << e;
  e = error_of(R"({"calibration": {"images": 0}, "settings": [{}]})");
  EXPECT_NE(e.find("calibration.images: found 0, expected >= 1"), std::string::npos) << e;
  e = error_of(R"({"eval": {"batch": 8}, "settings": [{}]})");
  EXPECT_NE(e.find("eval.batch: found an unknown key, expected one of batch_size, limit, numerics"),
            std::string::npos)
      << e;
  e = error_of(R"({"settings": [{"layers": {"head": {"bitz": 8}}}]})");
  EXPECT_NE(e.find("settings[0].layers.head.bitz: found an unknown key, expected one of bits, observer"),
            std::string::npos)
      << e;
  e = error_of(R"({"engines": ["fake"]})");
  EXPECT_NE(e.find("settings: found none"), std::string::npos) << e;
  e = error_of("{not json");
  EXPECT_NE(e.find("s.json: json:"), std::string::npos) << e;
}

TEST(SweepConfig, MissingPathsAreNamed) {
  const SweepConfig c = parse_sweep_config(R"({"settings": [{}]})", "s.json", "");
  try {
    expand_runs(c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("models: found none, expected a model in the config or --model"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fqvit
