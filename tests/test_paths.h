// Where tests find their data: the project's own files, and ../shared when it exists (tests that need it skip,
// saying so, when it does not: a user's machine will not have it).
#pragma once

#include <optional>
#include <string>

namespace fqvit::testing {

std::string source_dir();                  // the project checkout
std::string binary_dir();                  // the CMake build directory
std::optional<std::string> shared_dir();   // $FQVIT_SHARED_DIR when set (none if it does not exist), else
                                           // <source>/../shared if it exists

// A fresh empty directory for one test's outputs: <build>/test-scratch/<pid>/<Suite.Test>/<name>, so test cases
// that ctest runs at once never share one. Removed at exit when every test of the process passed.
std::string scratch_dir(const std::string& name);

}  // namespace fqvit::testing

// Skips the current test unless ../shared exists; binds `var` to its path.
#define FQVIT_REQUIRE_SHARED(var)                                                          \
  const auto var##_opt = ::fqvit::testing::shared_dir();                                   \
  if (!var##_opt) GTEST_SKIP() << "../shared not found (set FQVIT_SHARED_DIR): skipped";  \
  const std::string var = *var##_opt
