// Errors raised at the edges (loaders, configs, CLI, the public API): one line naming the file, the field, the value
// found and the value expected, and the same four parts as fields for programs that handle them. Kernels never
// throw; they assert invariants in debug builds.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace fqvit {

class Error : public std::runtime_error {
 public:
  // A message with no structured parts (kept for internal callers that compose their own line).
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // what() is "<file>: <field>: found <found>, expected <expected>", or "<file>: <field>" when found and expected
  // are both empty (I/O failures and the like, where `field` is the whole message).
  Error(std::string file, std::string field, std::string found, std::string expected);

  const std::string& file() const { return file_; }          // the input at fault: a path, "command line", ...
  const std::string& field() const { return field_; }        // the key, tensor, flag or line within it
  const std::string& found() const { return found_; }        // what was there ("nothing" when it was missing)
  const std::string& expected() const { return expected_; }  // what would have been accepted

 private:
  std::string file_, field_, found_, expected_;
};

// Throws Error("<file>: <field>: found <found>, expected <expected>").
[[noreturn]] void fail(std::string_view file, std::string_view field, std::string_view found,
                       std::string_view expected);

// Throws Error("<file>: <message>") for failures that have no found/expected pair (I/O errors and the like).
[[noreturn]] void fail(std::string_view file, std::string_view message);

}  // namespace fqvit
