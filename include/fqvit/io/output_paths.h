// Output paths are checked before any work starts, so a bad one fails in a second, not after the calibration, and
// an output can never replace an input: files are compared by identity (device and inode), not by spelling.
#pragma once

#include <string>
#include <vector>

namespace fqvit {

struct NamedPath {
  std::string flag;  // the option that gave it ("--out"), named in errors
  std::string path;
};

// Throws Error("<path>: <flag>: found ..., expected ...") when an output's folder does not exist or is not
// writable, an output is a directory or another non-regular file, an output is the same file as an input (list the
// files of an input directory, e.g. a checkpoint's model.safetensors and config.json), or two outputs are the same
// file. Empty paths are skipped.
void check_output_paths(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

}  // namespace fqvit
