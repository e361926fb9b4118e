#include "test_paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace fqvit::testing {

std::string source_dir() { return FQVIT_SOURCE_DIR; }
std::string binary_dir() { return FQVIT_BINARY_DIR; }

std::optional<std::string> shared_dir() {
  namespace fs = std::filesystem;
  // Set, it decides: a directory that does not exist runs the suite as on a machine without ../shared (the
  // sanitizer run in CI does so).
  if (const char* env = std::getenv("FQVIT_SHARED_DIR"); env != nullptr) {
    if (fs::is_directory(env)) return std::string(env);
    return std::nullopt;
  }
  const fs::path guess = fs::path(source_dir()).parent_path() / "shared";
  if (fs::is_directory(guess / "models")) return guess.string();
  return std::nullopt;
}

namespace {

namespace fs = std::filesystem;

// Every test process owns test-scratch/<pid>: ctest -j N runs cases of one fixture in separate processes at once,
// and a directory shared by name would be emptied by one while the other writes into it.
fs::path process_scratch_root() {
  return fs::path(binary_dir()) / "test-scratch" / std::to_string(static_cast<long>(::getpid()));
}

// The running test's full name (Suite.Test, parameterized ones with '/'), made into one path component; the suite
// name alone inside SetUpTestSuite.
std::string current_test_component() {
  const ::testing::UnitTest* unit = ::testing::UnitTest::GetInstance();
  std::string name = "no_test";
  if (const ::testing::TestInfo* info = unit->current_test_info(); info != nullptr) {
    name = std::string(info->test_suite_name()) + "." + info->name();
  } else if (const ::testing::TestSuite* suite = unit->current_test_suite(); suite != nullptr) {
    name = suite->name();
  }
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

// Removes this process's scratch tree when every test passed; a failure keeps it for inspection.
class ScratchCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    if (::testing::UnitTest::GetInstance()->Passed()) {
      std::error_code ignored;
      fs::remove_all(process_scratch_root(), ignored);
    }
  }
};

const ::testing::Environment* const kScratchCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

}  // namespace

std::string scratch_dir(const std::string& name) {
  const fs::path dir = process_scratch_root() / current_test_component() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace fqvit::testing
