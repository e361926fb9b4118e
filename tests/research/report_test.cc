// fqvit-report's table, plot and shard merge on hand-written records (the values are the records', so every
// expected cell is read off the input, not off our own output).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "fqvit/core/error.h"
#include "fqvit/research/report.h"
#include "test_paths.h"

namespace fqvit {
namespace {

using nlohmann::json;

json run(const std::string& model, const std::string& engine, const std::string& method, int w, int a, int t,
         double top1, const std::string& status = "ok") {
  return {{"key", model + engine + method + std::to_string(w) + std::to_string(t)},
          {"status", status}, {"model", "/m/" + model}, {"model_name", model}, {"engine", engine},
          {"method_label", method}, {"bits", {{"weight", w}, {"activation", a}, {"attention", t}}}, {"top1", top1}};
}

std::vector<json> sample() {
  return {run("deit_tiny", "fp32", "FP32", 32, 32, 32, 72.2), run("deit_tiny", "fake", "MinMax", 8, 8, 8, 70.9),
          run("vit_tiny", "fp32", "FP32", 32, 32, 32, 82.77), run("vit_tiny", "fake", "MinMax", 8, 8, 8, 0.0),
          run("vit_tiny", "fake", "MinMax+PTF+LIS", 8, 8, 4, 54.0),
          run("deit_tiny", "fake", "MinMax+PTF+LIS", 8, 8, 4, 0, "failed"),
          run("vit_tiny", "fake", "MinMax+PTF+LIS", 6, 6, 4, 20.5)};
}

TEST(Report, MarkdownTableHasThePapersShape) {
  const std::string table = markdown_table(sample());
  EXPECT_EQ(table,
            "| Method | W/A/Attn | deit_tiny | vit_tiny |\n"
            "|---|---|---|---|\n"
            "| FP32 | 32/32/32 | 72.20 | 82.77 |\n"
            "| MinMax | 8/8/8 | 70.90 | 0.00 |\n"
            "| MinMax+PTF+LIS | 8/8/4 | failed | 54.00 |\n"
            "| MinMax+PTF+LIS | 6/6/4 | - | 20.50 |\n");
}

TEST(Report, SvgParsesAsXmlWithOneSeriesPerMethod) {
  const std::string dir = testing::scratch_dir("report_svg");
  { std::ofstream(dir + "/plot.svg") << accuracy_plot_svg(sample()); }
  // Python's XML parser is the independent judge of well-formedness; it prints each series group's name.
  const std::string cmd = "python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                          "ns = '{http://www.w3.org/2000/svg}'; assert r.tag == ns + 'svg'; "
                          "print('\\n'.join(sorted(set(g.get('data-series') for g in r.iter(ns + 'g') "
                          "if g.get('class') == 'series'))))\" " + dir + "/plot.svg";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  ASSERT_EQ(pclose(pipe), 0) << "the SVG is not well-formed XML";
  // Series: method and attention bits; failed runs drawn nowhere.
  EXPECT_EQ(out, "MinMax+PTF+LIS, Attn 4\nMinMax, Attn 8\n");
}

json shard(int64_t index, int64_t count, int64_t first, int64_t end, int64_t total) {
  json predictions = json::array();
  for (int64_t i = first; i < end; ++i) predictions.push_back({{"image", std::to_string(i)}, {"label", i % 3}});
  return {{"engine", "fake"}, {"numerics", "default"}, {"model", "q.safetensors"}, {"model_fingerprint", "abc"},
          {"data", "val"}, {"class_list", ""}, {"labels", ""}, {"limit", 0}, {"batch_size", 8},
          {"image_list_fingerprint", "def"}, {"shard", {{"index", index}, {"count", count}}},
          {"slice", {{"first", first}, {"end", end}, {"total", total}}}, {"predictions", predictions},
          {"images", end - first}, {"top1_correct", (end - first) / 2}, {"top5_correct", end - first},
          {"skipped", 0}, {"skipped_images", json::array()}, {"seconds", 1.0}, {"model_seconds", 0.5}};
}

std::string merge_error(const std::vector<std::pair<std::string, json>>& shards) {
  try {
    merge_shards(shards);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Report, MergeAddsShardsUpInImageOrder) {
  const json merged = merge_shards({{"b.json", shard(1, 2, 5, 10, 10)}, {"a.json", shard(0, 2, 0, 5, 10)}});
  EXPECT_EQ(merged["images"], 10);
  EXPECT_EQ(merged["top1_correct"], 4);
  EXPECT_DOUBLE_EQ(merged["top1"].get<double>(), 40.0);
  EXPECT_EQ(merged["predictions"].size(), 10u);
  EXPECT_EQ(merged["predictions"][0]["image"], "0");
  EXPECT_EQ(merged["predictions"][9]["image"], "9");
  EXPECT_EQ(merged["slice"], (json{{"first", 0}, {"end", 10}, {"total", 10}}));
  EXPECT_DOUBLE_EQ(merged["seconds"].get<double>(), 2.0);
}

TEST(Report, MergeRefusesOverlapsGapsAndDisagreeingShards) {
  std::string e = merge_error({{"a.json", shard(0, 2, 0, 6, 10)}, {"b.json", shard(1, 2, 5, 10, 10)}});
  EXPECT_NE(e.find("b.json: slice: found images 5..9"), std::string::npos) << e;
  EXPECT_NE(e.find("no overlap with a.json, which ends at image 5"), std::string::npos) << e;
  e = merge_error({{"a.json", shard(0, 3, 0, 3, 10)}, {"c.json", shard(2, 3, 6, 10, 10)}});
  EXPECT_NE(e.find("images 3..5 are in no shard (a gap)"), std::string::npos) << e;
  e = merge_error({{"a.json", shard(0, 2, 0, 5, 10)}});
  EXPECT_NE(e.find("images 5..9 are in no shard (a gap)"), std::string::npos) << e;
  json other = shard(1, 2, 5, 10, 10);
  other["model_fingerprint"] = "xyz";
  e = merge_error({{"a.json", shard(0, 2, 0, 5, 10)}, {"b.json", other}});
  EXPECT_NE(e.find("b.json: model_fingerprint: found \"xyz\", expected \"abc\" as in a.json"), std::string::npos) << e;
  other = shard(1, 2, 5, 10, 10);
  other["engine"] = "fp32";
  e = merge_error({{"a.json", shard(0, 2, 0, 5, 10)}, {"b.json", other}});
  EXPECT_NE(e.find("b.json: engine: found \"fp32\""), std::string::npos) << e;
  other = shard(1, 2, 5, 10, 10);
  other.erase("predictions");
  e = merge_error({{"a.json", shard(0, 2, 0, 5, 10)}, {"b.json", other}});
  EXPECT_NE(e.find("b.json: predictions: found missing"), std::string::npos) << e;
}

}  // namespace
}  // namespace fqvit
