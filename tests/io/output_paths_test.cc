// Output paths are checked before any work: a missing folder, a directory, an input by another name (hard link,
// symlink, "./" spelling) or two outputs on one file are each one line naming the flag, and nothing is written.
// Atomic writes clean up what a killed run left.
#include "fqvit/io/output_paths.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "fqvit/core/error.h"
#include "fqvit/io/atomic_file.h"
#include "test_paths.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class OutputPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::scratch_dir("output_paths");
    std::ofstream(dir_ + "/model.safetensors") << "weights";
  }
  std::string dir_;
};

TEST_F(OutputPathsTest, NewFileInAnExistingFolderIsAccepted) {
  EXPECT_EQ(error_of([&] {
              check_output_paths({{"--out", dir_ + "/q.safetensors"}}, {{"--model", dir_ + "/model.safetensors"}});
            }),
            "");
  EXPECT_FALSE(fs::exists(dir_ + "/q.safetensors"));  // checking writes nothing
}

TEST_F(OutputPathsTest, MissingFolderOrDirectoryIsRefused) {
  std::string e = error_of([&] { check_output_paths({{"--out", dir_ + "/no/q.safetensors"}}, {}); });
  EXPECT_NE(e.find("no/q.safetensors: --out: found folder " + dir_ + "/no does not exist, expected an existing folder"),
            std::string::npos) << e;
  e = error_of([&] { check_output_paths({{"--json", dir_}}, {}); });
  EXPECT_NE(e.find(": --json: found a directory, expected a file path to write"), std::string::npos) << e;
}

TEST_F(OutputPathsTest, InputUnderAnotherNameIsRefused) {
  const std::string input = dir_ + "/model.safetensors";
  fs::create_hard_link(input, dir_ + "/hard.safetensors");
  fs::create_symlink(input, dir_ + "/soft.safetensors");
  for (const std::string& out : {input, dir_ + "/./model.safetensors", dir_ + "/hard.safetensors",
                                 dir_ + "/soft.safetensors"}) {
    const std::string e = error_of([&] { check_output_paths({{"--out", out}}, {{"--model", input}}); });
    EXPECT_NE(e.find(out + ": --out: found the same file as --model " + input + ", expected an output that is not an "
                     "input"), std::string::npos) << e;
  }
  EXPECT_EQ(read_all(input), "weights");
}

TEST_F(OutputPathsTest, TwoOutputsOnOneFileAreRefused) {
  const std::string e = error_of([&] {
    check_output_paths({{"--json", dir_ + "/x"}, {"--save-logits", dir_ + "/./x"}}, {});
  });
  EXPECT_NE(e.find("/./x: --save-logits: found the same file as --json " + dir_ + "/x, expected a separate file per "
                   "output"), std::string::npos) << e;
}

TEST_F(OutputPathsTest, AtomicWriteRemovesTempFilesOfDeadRunsOnly) {
  // A child that exits at once gives a pid that is surely gone; our own pid is surely alive.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  const std::string out = dir_ + "/r.json";
  const std::string dead = out + ".tmp-" + std::to_string(child);
  const std::string live = out + ".tmp-1";  // pid 1 (init) is alive
  const std::string other = dir_ + "/other.json.tmp-" + std::to_string(child);  // another output's: not ours
  for (const auto& p : {dead, live, other}) std::ofstream(p) << "partial";
  write_file_atomically(out, [](std::ostream& s) { s << "{}\n"; });
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(read_all(out), "{}\n");
}

}  // namespace
}  // namespace fqvit
