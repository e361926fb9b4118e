// fqvit-bench-fp32's command line: sizes oneDNN cannot take are refused with one line and exit 1, before any model
// is loaded (a zero batch used to abort inside oneDNN, exit 134).
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_runner.h"
#include "test_paths.h"

namespace fqvit {
namespace {

TEST(BenchFp32Cli, RefusesSizesOneDnnCannotTake) {
  if (!std::filesystem::exists(testing::binary_dir() + "/bench/fqvit-bench-fp32")) {
    GTEST_SKIP() << "benchmarks not built (FQVIT_BUILD_BENCH=OFF)";
  }
  const std::string model = "--model " + testing::source_dir() + "/tests/data/models/vit_small_random_committed ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--batch 0", "fqvit-bench-fp32: error: command line: --batch: found 0, expected 1..4096\n"},
      {"--batch 8 --batch -3", "fqvit-bench-fp32: error: command line: --batch: found -3, expected 1..4096\n"},
      {"--threads 0", "fqvit-bench-fp32: error: command line: --threads: found 0, expected 1..1024\n"},
      {"--seconds 0", "fqvit-bench-fp32: error: command line: --seconds: found 0.000000, expected a number in (0, "
                      "3600]\n"},
  };
  for (const auto& [flags, message] : cases) {
    const auto r = testing::run_cli("bench/fqvit-bench-fp32", model + flags + " --no-torch");
    EXPECT_EQ(r.exit_code, 1) << flags << ": " << r.output;
    EXPECT_EQ(r.output, message) << flags;
  }
}

}  // namespace
}  // namespace fqvit
