// fqvit-bench end to end: the JSON it writes, its refusals, and the OpenMP wait policy every tool starts with.
// Speeds themselves are not asserted (benchmarks print figures; tests do not time).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_paths.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::run_cli;

constexpr double kRelativeTolerance = 1e-9;  // images/s and latency are two spellings of one measured number

std::string small_model() { return testing::source_dir() + "/tests/data/models/vit_small_random_committed"; }

class FqvitBench : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::scratch_dir("bench"); }
  std::string dir_;
};

TEST_F(FqvitBench, WritesTheFiguresOfTheRequestedRun) {
  const auto r = run_cli("fqvit-bench", "--model " + small_model() + " --batch 3 --threads 1 --seconds 0 --json " +
                                            dir_ + "/r.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(read_text(dir_ + "/r.json"));
  for (const char* key : {"images_per_second", "latency_ms", "engine", "batch", "threads", "isa"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["engine"], "fp32");
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["architecture"], "vit_test_tiny");
  EXPECT_FALSE(j["isa"].get<std::string>().empty());
  EXPECT_GE(j["passes"].get<int>(), 5);  // the minimum number of timed passes
  const double latency = j["latency_ms"], ips = j["images_per_second"];
  ASSERT_GT(latency, 0);
  EXPECT_NEAR(ips, 1000.0 * 3 / latency, kRelativeTolerance * ips);
  EXPECT_LE(j["latency_ms_min"].get<double>(), latency);
  EXPECT_GE(j["latency_ms_max"].get<double>(), latency);
  EXPECT_EQ(j["model_file_bytes"].get<int64_t>(),
            static_cast<int64_t>(fs::file_size(small_model() + "/model.safetensors")));
  EXPECT_GT(j["peak_resident_bytes"].get<int64_t>(), 0);
}

TEST_F(FqvitBench, RefusesWhatItCannotRunWithoutWritingOutput) {
  struct Case {
    std::string args, message;
  };
  const std::string model = "--model " + small_model();
  const std::string json = " --json " + dir_ + "/out.json";
  const Case cases[] = {
      // An engine this build lacks is refused before anything loads, naming the engines it has.
      {model + " --engine int8x" + json, "--engine: found int8x, expected one of the engines this build has: fp32"},
      {model + " --engine fake" + json, "--model: found a float checkpoint directory, expected a quantized model"},
      {"--model " + dir_ + "/missing" + json, "missing"},
      {model + " --numerics fastest" + json, "--numerics: found \"fastest\""},
      {model + " --batch 0" + json, "--batch: found 0, expected 1..4096"},
      {model + " --seconds=-1" + json, "--seconds: found -1"},
  };
  for (const auto& c : cases) {
    const bool timed = c.args.find("--seconds") == std::string::npos;
    const auto r = run_cli("fqvit-bench", c.args + (timed ? " --seconds 0" : ""));
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir_ + "/out.json")) << c.args;
  }
}

TEST_F(FqvitBench, NeverWritesOverTheModel) {
  fs::copy(small_model(), dir_ + "/model");
  const std::string config = dir_ + "/model/config.json";
  const std::string before = read_text(config);
  const auto r = run_cli("fqvit-bench", "--model " + dir_ + "/model --seconds 0 --json " + config);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--json: found the same file as --model"), std::string::npos) << r.output;
  EXPECT_EQ(read_text(config), before);
}

// The tools start with passive waiting unless the user chose (src/core/wait_policy.cc): the policy is in the
// environment libgomp reads at load, which only a restart of the process can give it.
TEST_F(FqvitBench, ThreadsSleepWhileWaitingUnlessTheUserChose) {
  struct Case {
    std::string env, expected;
  };
  const Case cases[] = {
      {"", "OMP_WAIT_POLICY=passive (fqvit default)"},
      {"OMP_WAIT_POLICY=active", "OMP_WAIT_POLICY=active (environment)"},
      {"GOMP_SPINCOUNT=1234", "GOMP_SPINCOUNT=1234 (environment)"},
  };
  for (const auto& c : cases) {
    const std::string cmd = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u FQVIT_WAIT_POLICY " + c.env + " " +
                            testing::binary_dir() + "/fqvit-bench --model " + small_model() +
                            " --batch 1 --seconds 0 --json " + dir_ + "/w.json >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto j = nlohmann::json::parse(read_text(dir_ + "/w.json"));
    EXPECT_EQ(j["thread_wait_policy"], c.expected) << cmd;
    fs::remove(dir_ + "/w.json");
  }
}

}  // namespace
}  // namespace fqvit
