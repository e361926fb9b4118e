#include "fqvit/research/results_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "fqvit/core/error.h"

namespace fqvit {

ResultsFile read_results(const std::string& path, bool missing_ok) {
  ResultsFile out;
  if (!std::filesystem::exists(path)) {
    if (missing_ok) return out;
    fail(path, "cannot open the results file (no such file)");
  }
  std::ifstream in(path);
  if (!in) fail(path, "cannot open the results file");
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      out.warnings.push_back(where + "not a JSON line (an interrupted write?), skipped");
    } else if (!j.is_object() || !j.contains("key") || !j.contains("status")) {
      out.warnings.push_back(where + "a JSON value without \"key\" and \"status\", skipped");
    } else {
      out.records.push_back(std::move(j));
      continue;
    }
    ++out.broken;
  }
  return out;
}

std::vector<nlohmann::json> latest_by_key(const std::vector<nlohmann::json>& records) {
  std::vector<nlohmann::json> out;
  std::map<std::string, size_t> position;
  for (const auto& r : records) {
    const std::string key = r["key"].is_string() ? r["key"].get<std::string>() : r["key"].dump();
    const auto it = position.find(key);
    if (it == position.end()) {
      position[key] = out.size();
      out.push_back(r);
    } else {
      out[it->second] = r;
    }
  }
  return out;
}

void append_result(const std::string& path, const nlohmann::json& record) {
  bool open_line = false;
  if (std::filesystem::exists(path) && std::filesystem::file_size(path) > 0) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(-1, std::ios::end);
    open_line = in.get() != '\n';
  }
  std::string line = open_line ? "\n" : "";
  line += record.dump();
  line += '\n';
  FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr) fail(path, "cannot open the results file for appending");
  const size_t written = std::fwrite(line.data(), 1, line.size(), f);
  const bool ok = written == line.size() && std::fflush(f) == 0;
  std::fclose(f);
  if (!ok) fail(path, "could not append a result line (disk full?)");
}

}  // namespace fqvit
