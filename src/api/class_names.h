// Class names for top-k results, read from a class list file.
#pragma once

#include <string>
#include <vector>

namespace fqvit::api {

// Lines "index wnid [name...]" (name = the rest of the line, else the wnid) or one name per line (index = line
// number among non-blank lines). Every class 0..num_classes-1 must be named exactly once; Error otherwise, naming
// the file and line.
std::vector<std::string> read_class_names(const std::string& path, int num_classes);

}  // namespace fqvit::api
