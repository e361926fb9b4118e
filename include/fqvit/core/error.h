// Errors raised at the edges (loaders, configs, CLI): one line naming the file, the field, the value found and the
// value expected. Kernels never throw; they assert invariants in debug builds.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace fqvit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws Error("<file>: <field>: found <found>, expected <expected>").
[[noreturn]] void fail(std::string_view file, std::string_view field, std::string_view found,
                       std::string_view expected);

// Throws Error("<file>: <message>") for failures that have no found/expected pair (I/O errors and the like).
[[noreturn]] void fail(std::string_view file, std::string_view message);

}  // namespace fqvit
