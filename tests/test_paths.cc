#include "test_paths.h"

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

std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(binary_dir()) / "test-scratch" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace fqvit::testing
