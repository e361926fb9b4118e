#include "fqvit/core/error.h"

namespace fqvit {

void fail(std::string_view file, std::string_view field, std::string_view found, std::string_view expected) {
  std::string message;
  message.append(file).append(": ").append(field).append(": found ").append(found);
  message.append(", expected ").append(expected);
  throw Error(message);
}

void fail(std::string_view file, std::string_view message) {
  std::string text;
  text.append(file).append(": ").append(message);
  throw Error(text);
}

}  // namespace fqvit
