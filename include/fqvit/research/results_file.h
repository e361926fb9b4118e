// The sweep's results: one JSON object per line (JSONL), appended as runs finish. Later lines of the same run key
// supersede earlier ones (a failed run redone, a sweep rerun with --redo).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fqvit {

struct ResultsFile {
  std::vector<nlohmann::json> records;  // valid lines, in file order
  int64_t broken = 0;                   // lines that are not a JSON object with a "key" and a "status"
  std::vector<std::string> warnings;    // "<file>:<line>: <what>", one per broken line
};

// Reads `path`; a missing file is an empty result set when `missing_ok`, else an Error. Broken lines (an
// interrupted append, a hand edit) are reported, skipped and counted, never fatal.
ResultsFile read_results(const std::string& path, bool missing_ok = false);

// The last record of every key, in the order keys first appear.
std::vector<nlohmann::json> latest_by_key(const std::vector<nlohmann::json>& records);

// Appends one record as one line with a single write, first ending a line an interrupted writer left open, so a
// crash mid-sweep loses at most the line being written.
void append_result(const std::string& path, const nlohmann::json& record);

}  // namespace fqvit
