#include "api/class_names.h"

#include <fstream>
#include <sstream>

#include "fqvit/core/error.h"

namespace fqvit::api {
namespace {

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

bool parse_index(const std::string& text, int* value) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  *value = std::stoi(text);
  return true;
}

}  // namespace

std::vector<std::string> read_class_names(const std::string& path, int num_classes) {
  std::ifstream in(path);
  if (!in) fail(path, "class list", "a file that cannot be opened", "a readable class list");
  std::vector<std::string> names(static_cast<size_t>(num_classes));
  std::vector<bool> seen(static_cast<size_t>(num_classes), false);
  std::string line;
  int line_no = 0, entries = 0;
  while (std::getline(in, line)) {
    ++line_no;
    line = trim(line);
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string first, wnid;
    fields >> first >> wnid;
    int index = entries;
    std::string name = line;
    if (!wnid.empty() && parse_index(first, &index)) {
      std::string rest;
      std::getline(fields, rest);
      name = trim(rest).empty() ? wnid : trim(rest);
    }
    const std::string where = "line " + std::to_string(line_no);
    if (index >= num_classes) {
      fail(path, where, "class " + std::to_string(index), "an index below the model's " +
                                                              std::to_string(num_classes) + " classes");
    }
    if (seen[static_cast<size_t>(index)]) fail(path, where, "class " + std::to_string(index) + " again", "each class once");
    seen[static_cast<size_t>(index)] = true;
    names[static_cast<size_t>(index)] = name;
    ++entries;
  }
  if (entries != num_classes) {
    fail(path, "class list", std::to_string(entries) + " classes",
         std::to_string(num_classes) + " (one per model output)");
  }
  return names;
}

}  // namespace fqvit::api
