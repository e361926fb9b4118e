#include "api/engine_choice.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "fqvit/eval/engine.h"

namespace fqvit::api {

std::string default_engine(const std::string& model_path) {
  if (std::filesystem::is_directory(model_path)) return "fp32";
  const std::vector<std::string> names = engine_names();
  return std::find(names.begin(), names.end(), "int") != names.end() ? "int" : "fake";
}

}  // namespace fqvit::api
