// The results JSONL: broken lines reported, skipped and counted; later lines of a key win; appends after an
// interrupted write start a new line.
#include <gtest/gtest.h>

#include <fstream>

#include "test_paths.h"
#include "fqvit/research/results_file.h"

namespace fqvit {
namespace {

TEST(ResultsFile, BrokenLinesAreReportedSkippedAndCounted) {
  const std::string path = testing::scratch_dir("results_broken") + "/r.jsonl";
  std::ofstream(path) << R"({"key": "a", "status": "ok", "top1": 1})" << "\n"
                      << R"({"key": "b", "status": "ok", "top1)" << "\n"   // cut short
                      << "\n"
                      << R"([1, 2])" << "\n"                                  // JSON, not a record
                      << R"({"key": "a", "status": "ok", "top1": 2})" << "\n";
  const ResultsFile r = read_results(path);
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.broken, 2);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0], path + ":2: not a JSON line (an interrupted write?), skipped");
  EXPECT_EQ(r.warnings[1], path + ":4: a JSON value without \"key\" and \"status\", skipped");
  const auto latest = latest_by_key(r.records);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0]["top1"], 2);
}

TEST(ResultsFile, AppendEndsALineAnInterruptedWriterLeftOpen) {
  const std::string path = testing::scratch_dir("results_append") + "/r.jsonl";
  append_result(path, {{"key", "a"}, {"status", "ok"}});
  { std::ofstream(path, std::ios::app) << R"({"key": "b", "sta)"; }  // killed mid-write
  append_result(path, {{"key", "c"}, {"status", "failed"}, {"error", "x"}});
  const ResultsFile r = read_results(path);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[1]["key"], "c");
  EXPECT_EQ(r.broken, 1);
}

TEST(ResultsFile, MissingFileIsAnErrorUnlessAllowed) {
  const std::string path = testing::scratch_dir("results_missing") + "/none.jsonl";
  EXPECT_TRUE(read_results(path, true).records.empty());
  EXPECT_THROW(read_results(path), std::exception);
}

}  // namespace
}  // namespace fqvit
