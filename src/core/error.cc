#include "fqvit/core/error.h"

#include <utility>

namespace fqvit {
namespace {

std::string error_line(const std::string& file, const std::string& field, const std::string& found,
                       const std::string& expected) {
  std::string line = file + ": " + field;
  if (!found.empty() || !expected.empty()) line += ": found " + found + ", expected " + expected;
  return line;
}

}  // namespace

Error::Error(std::string file, std::string field, std::string found, std::string expected)
    : std::runtime_error(error_line(file, field, found, expected)),
      file_(std::move(file)),
      field_(std::move(field)),
      found_(std::move(found)),
      expected_(std::move(expected)) {}

void fail(std::string_view file, std::string_view field, std::string_view found, std::string_view expected) {
  throw Error(std::string(file), std::string(field), std::string(found), std::string(expected));
}

void fail(std::string_view file, std::string_view message) {
  throw Error(std::string(file), std::string(message), "", "");
}

}  // namespace fqvit
