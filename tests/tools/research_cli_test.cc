// The research workflow end to end: fqvit-sweep against fqvit-calibrate + fqvit-eval run by hand, resuming,
// failed runs, jobs and a sharded evaluation through GNU parallel, fqvit-report, and fqvit-inspect's pictures.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "fqvit/eval/eval_record.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/research/results_file.h"
#include "test_paths.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_text;
using testing::run_cli;

std::string src(const std::string& p) { return testing::source_dir() + "/" + p; }
std::string demo_data() {
  return "--data " + src("demo/data/val") + " --class-list " + src("demo/data/classes.txt");
}

std::vector<json> lines_of(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

bool have_parallel() { return std::system("parallel --version > /dev/null 2>&1") == 0; }

testing::CliResult shell(const std::string& command) {
  testing::CliResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  while (pipe != nullptr && fgets(buffer, sizeof buffer, pipe) != nullptr) r.output += buffer;
  const int status = pipe != nullptr ? pclose(pipe) : -1;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Python's XML parser, the independent judge of well-formed SVG: returns how many <g class="CLASS"> it holds.
int svg_groups(const std::string& path, const std::string& cls) {
  const auto r = shell("python3 -c \"import sys, xml.etree.ElementTree as E; ns = '{http://www.w3.org/2000/svg}'; "
                       "r = E.parse(sys.argv[1]).getroot(); assert r.tag == ns + 'svg'; "
                       "print(sum(1 for g in r.iter(ns + 'g') if g.get('class') == sys.argv[2]))\" " +
                       path + " " + cls);
  if (r.exit_code != 0) return -1;
  return std::stoi(r.output);
}

TEST(ResearchCli, SmokeSweepEqualsCalibrateAndEvalByHandAndResumes) {
  const std::string dir = testing::scratch_dir("sweep_smoke");
  const std::string sweep = "--config " + src("configs/sweeps/smoke.json") + " --out " + dir + "/r.jsonl";
  auto r = run_cli("fqvit-sweep", sweep);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[3/3] vit_micro fake MinMax+PTF+LIS 8/8/4: top-1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ETA"), std::string::npos) << r.output;
  const auto runs = lines_of(dir + "/r.jsonl");
  ASSERT_EQ(runs.size(), 3u);
  for (const json& run : runs) {
    for (const char* key : {"key", "status", "model", "engine", "bits", "top1", "top5", "images", "images_per_second",
                            "calibration_seconds", "model_file_bytes", "tool_version"}) {
      EXPECT_TRUE(run.contains(key)) << key << " missing in " << run.dump();
    }
    EXPECT_EQ(run["status"], "ok");
    EXPECT_EQ(run["images"], 500);
  }

  // The same runs by hand through the CLI tools: the sweep must give the same counts.
  const std::string model = src("demo/models/vit_micro");
  r = run_cli("fqvit-eval", "--model " + model + " " + demo_data() + " --json " + dir + "/fp32.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json fp32 = json::parse(read_text(dir + "/fp32.json"));
  EXPECT_EQ(runs[0]["engine"], "fp32");
  EXPECT_EQ(runs[0]["top1_correct"], fp32["top1_correct"]);
  EXPECT_EQ(runs[0]["top5_correct"], fp32["top5_correct"]);
  const std::vector<std::string> flags = {"--method minmax --no-ptf --no-lis --w-bits 8 --a-bits 8 --attn-bits 8",
                                          "--method minmax --ptf --lis --w-bits 8 --a-bits 8 --attn-bits 4"};
  for (size_t i = 0; i < flags.size(); ++i) {
    const std::string q = dir + "/q" + std::to_string(i) + ".safetensors";
    r = run_cli("fqvit-calibrate", "--model " + model + " --calib " + src("demo/data/calib") + " --class-list " +
                                       src("demo/data/classes.txt") + " --images 100 --batch 100 " + flags[i] +
                                       " --out " + q);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_cli("fqvit-eval", "--model " + q + " --engine fake " + demo_data() + " --json " + dir + "/e.json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json e = json::parse(read_text(dir + "/e.json"));
    EXPECT_EQ(runs[i + 1]["top1_correct"], e["top1_correct"]) << flags[i];
    EXPECT_EQ(runs[i + 1]["top5_correct"], e["top5_correct"]) << flags[i];
    // The sweep's quantized file holds the same tensors, byte for byte (only the metadata's times differ).
    const std::string mine = runs[i + 1]["model_file"].get<std::string>();
    EXPECT_EQ(runs[i + 1]["model_file_bytes"].get<uintmax_t>(), fs::file_size(mine));
    const auto a = SafetensorsFile::open(mine), b = SafetensorsFile::open(q);
    ASSERT_EQ(a.tensors().size(), b.tensors().size()) << flags[i];
    for (const auto& t : b.tensors()) {
      const auto x = a.bytes(t.name), y = b.bytes(t.name);
      ASSERT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end())) << t.name << " differs, " << flags[i];
    }
  }

  // Rerun: nothing to do.
  r = run_cli("fqvit-sweep", sweep);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 of 3 runs already in"), std::string::npos) << r.output;
  EXPECT_EQ(lines_of(dir + "/r.jsonl").size(), 3u);

  // An interrupted run: its line cut short. The rerun redoes exactly that run; the report skips the broken line.
  std::string text = read_text(dir + "/r.jsonl");
  text.resize(text.size() - 40);
  { std::ofstream(dir + "/r.jsonl") << text; }
  r = run_cli("fqvit-sweep", sweep);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("r.jsonl:3: not a JSON line"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 of 3 runs already in"), std::string::npos) << r.output;
  const ResultsFile redone = read_results(dir + "/r.jsonl");
  EXPECT_EQ(redone.records.size(), 3u);
  EXPECT_EQ(redone.broken, 1);
  EXPECT_EQ(redone.records[2]["top1_correct"], runs[2]["top1_correct"]);
  r = run_cli("fqvit-report", dir + "/r.jsonl --markdown " + dir + "/t.md --svg " + dir + "/p.svg");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 broken line(s) skipped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| FP32 | 32/32/32 | 86.80 |"), std::string::npos) << r.output;  // demo/README.md
  EXPECT_EQ(svg_groups(dir + "/p.svg", "series"), 2);
}

TEST(ResearchCli, FailedRunIsRecordedAndTheSweepGoesOn) {
  const std::string dir = testing::scratch_dir("sweep_failed");
  fs::create_directories(dir + "/broken_model");
  std::ofstream(dir + "/broken_model/config.json") << "{\"architecture\": \"vit_micro_patch4_32\"";
  std::ofstream(dir + "/s.json") << json{{"models", {dir + "/broken_model", src("demo/models/vit_micro")}},
                                         {"calib", src("demo/data/calib")}, {"data", src("demo/data/val")},
                                         {"class_list", src("demo/data/classes.txt")},
                                         {"calibration", {{"images", 20}, {"batch_size", 20}}}, {"eval", {{"limit", 50}}},
                                         {"engines", {"fake"}}, {"settings", {{{"bits", "8/8/4"}}}}}.dump();
  auto r = run_cli("fqvit-sweep", "--config " + dir + "/s.json --out " + dir + "/r.jsonl");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("[1/2] broken_model fake MinMax+PTF+LIS 8/8/4: FAILED: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 ok, 1 failed"), std::string::npos) << r.output;
  auto runs = lines_of(dir + "/r.jsonl");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["status"], "failed");
  EXPECT_NE(runs[0]["error"].get<std::string>().find("broken_model/config.json"), std::string::npos) << runs[0];
  EXPECT_EQ(runs[1]["status"], "ok");
  EXPECT_EQ(runs[1]["images"], 50);
  // A rerun tries the failed run again and leaves the finished one alone.
  r = run_cli("fqvit-sweep", "--config " + dir + "/s.json --out " + dir + "/r.jsonl");
  EXPECT_NE(r.output.find("1 of 2 runs already in"), std::string::npos) << r.output;
  runs = lines_of(dir + "/r.jsonl");
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[2]["status"], "failed");
  r = run_cli("fqvit-report", dir + "/r.jsonl");
  EXPECT_NE(r.output.find("| MinMax+PTF+LIS | 8/8/4 | failed | "), std::string::npos) << r.output;
}

TEST(ResearchCli, EmittedJobsRunThroughGnuParallel) {
  if (!have_parallel()) GTEST_SKIP() << "GNU parallel not installed (scripts/install_deps.sh installs it): skipped";
  const std::string dir = testing::scratch_dir("sweep_jobs");
  auto r = run_cli("fqvit-sweep", "--config " + src("configs/sweeps/smoke.json") + " --out " + dir +
                                      "/r.jsonl --threads 1 --emit-jobs " + dir + "/jobs.txt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string jobs = read_text(dir + "/jobs.txt");
  EXPECT_EQ(std::count(jobs.begin(), jobs.end(), '\n'), 3);
  r = shell("OMP_WAIT_POLICY=passive parallel -j 2 --halt now,fail=1 < " + dir + "/jobs.txt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> parts;
  for (const auto& e : fs::directory_iterator(dir + "/r.jsonl.parts")) parts.push_back(e.path().string());
  ASSERT_EQ(parts.size(), 3u);
  std::string args;
  for (const auto& p : parts) args += p + " ";
  r = run_cli("fqvit-report", args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 runs (0 failed) from 3 file(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| FP32 | 32/32/32 | 86.80 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| MinMax+PTF+LIS | 8/8/4 | 86.00 |"), std::string::npos) << r.output;  // demo/README.md
}

TEST(ResearchCli, TwoWayShardedEvalThroughGnuParallelMergesToTheUnshardedRecord) {
  if (!have_parallel()) GTEST_SKIP() << "GNU parallel not installed (scripts/install_deps.sh installs it): skipped";
  const std::string dir = testing::scratch_dir("shard_parallel");
  const std::string q = dir + "/q.safetensors";
  auto r = run_cli("fqvit-calibrate", "--model " + src("demo/models/vit_micro") + " --calib " + src("demo/data/calib") +
                                          " --class-list " + src("demo/data/classes.txt") + " --images 100 --out " + q);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string eval = testing::binary_dir() + "/fqvit-eval --model " + q + " --engine fake " + demo_data() +
                           " --threads 1 --batch-size 16";
  r = shell("OMP_WAIT_POLICY=passive parallel -j 2 --halt now,fail=1 " + eval + " --shard {}/2 --json " + dir +
            "/shard{}.json ::: 0 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = shell(eval + " --json " + dir + "/whole.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("fqvit-report", "--merge " + dir + "/shard1.json " + dir + "/shard0.json --json " + dir + "/merged.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  json whole = json::parse(read_text(dir + "/whole.json"));
  json merged = json::parse(read_text(dir + "/merged.json"));
  const json shard0 = json::parse(read_text(dir + "/shard0.json"));
  EXPECT_EQ(shard0["images"], 250);
  EXPECT_EQ(whole["predictions"].size(), 500u);
  for (const std::string& key : eval_timing_keys()) {  // time differs between any two runs
    whole.erase(key);
    merged.erase(key);
  }
  EXPECT_EQ(merged, whole) << "merged and unsharded records differ";

  // Refusals: a shard twice (overlap), one shard alone (gap); no output written.
  r = run_cli("fqvit-report", "--merge " + dir + "/shard0.json " + dir + "/shard0.json --json " + dir + "/bad.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no overlap with"), std::string::npos) << r.output;
  r = run_cli("fqvit-report", "--merge " + dir + "/shard0.json --json " + dir + "/bad.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("images 250..499 are in no shard (a gap)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/bad.json"));
}

TEST(ResearchCli, BadInputStopsWithOneClearLine) {
  const std::string dir = testing::scratch_dir("research_bad_input");
  std::ofstream(dir + "/s.json") << R"({"settings": [{"method": "minmax", "bits": "8/8/8", "pft": true}]})";
  auto r = run_cli("fqvit-sweep", "--config " + dir + "/s.json --out " + dir + "/r.jsonl");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("s.json: settings[0].pft: found an unknown key, expected one of method, ptf, lis, bits"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir + "/r.jsonl"));  // nothing written for a bad config
  r = run_cli("fqvit-eval", "--model " + src("demo/models/vit_micro") + " " + demo_data() + " --shard 2/2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--shard: found '2/2', expected I/N with 0 <= I < N"), std::string::npos) << r.output;
  // An output never replaces an input.
  r = run_cli("fqvit-sweep", "--config " + dir + "/s.json --out " + dir + "/s.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--out: found the same file as --config"), std::string::npos) << r.output;
  std::ofstream(dir + "/r.jsonl") << R"({"key": "a", "status": "ok"})" << "\n";
  r = run_cli("fqvit-report", dir + "/r.jsonl --svg " + dir + "/r.jsonl");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--svg: found the same file as input"), std::string::npos) << r.output;
  EXPECT_EQ(read_text(dir + "/r.jsonl"), "{\"key\": \"a\", \"status\": \"ok\"}\n");
  r = run_cli("fqvit-report", dir + "/none.jsonl");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("none.jsonl: cannot open the results file"), std::string::npos) << r.output;
}

TEST(ResearchCli, InspectDrawsThePapersPictures) {
  const std::string dir = testing::scratch_dir("inspect");
  const auto r = run_cli("fqvit-inspect", "--model " + src("demo/models/vit_micro") + " --calib " +
                                              src("demo/data/calib") + " --class-list " + src("demo/data/classes.txt") +
                                              " --images 100 --out-dir " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(svg_groups(dir + "/layernorm_inputs.svg", "ln-input"), 9);  // qact1 + 2 per block, 4 blocks
  EXPECT_EQ(svg_groups(dir + "/attention_maps.svg", "attention-map"), 3 * 4);  // 3 columns x 4 heads
  const std::string table = read_text(dir + "/quantizer_error.md");
  const auto rows = std::count(table.begin(), table.end(), '\n') - 2;
  EXPECT_EQ(svg_groups(dir + "/quantizer_error.svg", "quantizer"), rows);
  const json summary = json::parse(read_text(dir + "/inspect.json"));
  EXPECT_EQ(summary["quantizer_error"].size(), static_cast<size_t>(rows));
}

}  // namespace
}  // namespace fqvit
