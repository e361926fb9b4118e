// Outputs are written under a temporary name beside the target and renamed when complete, so a failed run never
// leaves a partial file behind.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace fqvit {

// Calls `write` with a stream on "<path>.tmp-<pid>", then renames it to `path`. On any failure (exception or bad
// stream) the temporary file is removed and Error is thrown naming `path`. Temporary files of `path` left by a killed
// run (their process is gone) are removed first.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace fqvit
