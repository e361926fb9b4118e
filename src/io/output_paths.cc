#include "fqvit/io/output_paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;

struct FileId {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileId&) const = default;
};

// The identity of what `path` names after following symlinks; false when nothing is there.
bool file_id(const std::string& path, FileId* id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *id = {st.st_dev, st.st_ino};
  return true;
}

// The folder a new file at `path` lands in.
std::string parent_folder(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// The output's final location, spelled one way, for outputs that do not exist yet.
std::string normal_spelling(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : p.string();
}

}  // namespace

void check_output_paths(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const NamedPath& out = outputs[i];
    if (out.path.empty()) continue;
    std::error_code ec;
    const auto status = fs::status(out.path, ec);
    if (fs::exists(status) && !fs::is_regular_file(status)) {
      fail(out.path, out.flag, fs::is_directory(status) ? "a directory" : "not a regular file",
           "a file path to write (a regular file or a new name)");
    }
    const std::string folder = parent_folder(out.path);
    if (!fs::is_directory(folder, ec)) {
      fail(out.path, out.flag, "folder " + folder + " does not exist", "an existing folder to write into");
    }
    if (::access(folder.c_str(), W_OK | X_OK) != 0) {
      fail(out.path, out.flag, "folder " + folder + " is not writable", "a folder this user may write into");
    }
    FileId out_id;
    const bool out_exists = file_id(out.path, &out_id);
    for (const NamedPath& in : inputs) {
      if (in.path.empty()) continue;
      FileId in_id;
      if (out_exists && file_id(in.path, &in_id) && in_id == out_id) {
        fail(out.path, out.flag, "the same file as " + in.flag + " " + in.path, "an output that is not an input");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      const NamedPath& other = outputs[j];
      if (other.path.empty()) continue;
      FileId other_id;
      const bool same_file = out_exists && file_id(other.path, &other_id) && other_id == out_id;
      if (same_file || normal_spelling(other.path) == normal_spelling(out.path)) {
        fail(out.path, out.flag, "the same file as " + other.flag + " " + other.path, "a separate file per output");
      }
    }
  }
}

}  // namespace fqvit
