#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "fqvit/core/error.h"
#include "fqvit/io/dataset.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Calls fn(line, line_no) for every non-blank line of `path`, trimmed. `what` names the file's role in the error
// raised when it cannot be opened.
void for_each_line(const std::string& path, const std::string& what, const std::string& expected,
                   const std::function<void(const std::string&, int)>& fn) {
  // A FIFO would block the open, a directory would read as an empty file: refuse anything but a regular file.
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::exists(status) && !fs::is_regular_file(status)) {
    fail(path, what, fs::is_directory(status) ? "a directory" : "not a regular file", expected);
  }
  std::ifstream in(path);
  if (!in) fail(path, what, "a file that cannot be opened", expected);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    line = trim(line);
    if (!line.empty()) fn(line, line_no);
  }
}

bool parse_index(const std::string& text, int* value) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *value = std::stoi(text);
  return true;
}

std::string class_bound(int num_classes) {
  return "an index below " + std::to_string(num_classes) + " (the model's num_classes)";
}

// Class list: "index wnid [name...]" or "wnid" per line. Returns wnid -> index and fills names by index.
std::map<std::string, int> read_class_list(const std::string& path, int num_classes, std::vector<std::string>* names) {
  std::map<std::string, int> index;
  std::map<int, std::string> wnid_of;
  for_each_line(path, "class list", "a readable class list (--class-list)", [&](const std::string& line, int line_no) {
    std::istringstream fields(line);
    std::string first, second;
    fields >> first >> second;
    int idx = 0;
    std::string wnid;
    if (!second.empty() && parse_index(first, &idx)) {
      wnid = second;
    } else if (second.empty()) {
      idx = static_cast<int>(index.size());
      wnid = first;
    } else {
      fail(path, "line " + std::to_string(line_no), "\"" + line + "\"", "\"index wnid [name]\" or \"wnid\"");
    }
    if (index.count(wnid) != 0) {
      fail(path, "line " + std::to_string(line_no), "wnid " + wnid + " a second time", "each wnid once");
    }
    if (num_classes > 0 && idx >= num_classes) {
      fail(path, "line " + std::to_string(line_no), "index " + std::to_string(idx), class_bound(num_classes));
    }
    if (const auto other = wnid_of.find(idx); other != wnid_of.end()) {
      fail(path, "line " + std::to_string(line_no), "index " + std::to_string(idx) + " for " + wnid +
               ", already given to " + other->second, "one wnid per class index");
    }
    wnid_of[idx] = wnid;
    index[wnid] = idx;
    if (names->size() <= static_cast<size_t>(idx)) names->resize(static_cast<size_t>(idx) + 1);
    (*names)[static_cast<size_t>(idx)] = wnid;
  });
  if (index.empty()) fail(path, "class list", "no classes", "at least one line");
  return index;
}

std::string relative_string(const fs::path& p, const fs::path& root) {
  return fs::relative(p, root).generic_string();
}

// A label-file path must stay inside the dataset folder: relative, and no ".." that climbs above it.
bool stays_inside(const fs::path& rel) {
  if (rel.empty() || rel.is_absolute() || rel.has_root_name()) return false;
  int depth = 0;
  for (const auto& part : rel.lexically_normal()) {
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (part != "." && !part.empty()) {
      ++depth;
    }
  }
  return depth > 0;
}

// Why a class-folder entry is not an image of the dataset, or "" when it is one.
std::string why_not_listed(const fs::directory_entry& entry) {
  std::error_code ec;
  if (entry.is_symlink(ec) && !fs::exists(entry.path(), ec)) return "broken symlink";
  if (entry.is_directory(ec)) return "nested folder (class folders are read one level deep)";
  if (!entry.is_regular_file(ec)) return "not a regular file";
  if (!is_image_file(entry.path())) return "not a .jpg .jpeg or .png file";
  return "";
}

}  // namespace

ImageFolder ImageFolder::open(const std::string& root, const DatasetOptions& options) {
  ImageFolder folder;
  folder.root_ = root;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) fail(root, "dataset folder", "no such directory", "an ImageFolder directory");

  std::vector<std::string> class_names;
  std::map<std::string, int> class_index;
  if (!options.class_list.empty()) {
    class_index = read_class_list(options.class_list, options.num_classes, &class_names);
  }

  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  }
  std::sort(class_dirs.begin(), class_dirs.end());

  if (options.class_list.empty()) {
    if (options.num_classes > 0 && options.labels_file.empty() &&
        class_dirs.size() > static_cast<size_t>(options.num_classes)) {
      fail(root, "class folders", std::to_string(class_dirs.size()),
           "at most " + std::to_string(options.num_classes) +
               " (the model's num_classes; with a subset of classes pass --class-list so folders keep their indices)");
    }
    for (const auto& dir : class_dirs) {
      class_index[dir.filename().string()] = static_cast<int>(class_names.size());
      class_names.push_back(dir.filename().string());
    }
  }

  for (const auto& dir : class_dirs) {
    const std::string wnid = dir.filename().string();
    auto it = class_index.find(wnid);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string why = why_not_listed(entry);
      if (why.empty()) {
        files.push_back(entry.path());
      } else {
        folder.ignored_.push_back(relative_string(entry.path(), root) + ": " + why);
      }
    }
    if (files.empty()) continue;
    if (it == class_index.end() && options.labels_file.empty()) {
      fail(options.class_list, "class folder " + wnid, "a folder not in the class list",
           "every class folder of " + root + " listed");
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      LabeledImage image{f.string(), relative_string(f, root), it == class_index.end() ? -1 : it->second};
      folder.images_.push_back(std::move(image));
    }
  }

  if (!options.labels_file.empty()) {
    // The label file fixes both the list and the labels.
    std::vector<LabeledImage> listed;
    std::map<std::string, int> line_of;  // normalized relative path -> line first listing it
    const std::string& labels = options.labels_file;
    for_each_line(labels, "label file", "a readable label file (--labels)", [&](const std::string& line, int line_no) {
      const auto space = line.find_last_of(" \t");
      int label = 0;
      if (space == std::string::npos || !parse_index(trim(line.substr(space + 1)), &label)) {
        fail(labels, "line " + std::to_string(line_no), "\"" + line + "\"", "\"relative/path index\"");
      }
      const std::string rel = trim(line.substr(0, space));
      const std::string where = "line " + std::to_string(line_no);
      if (!stays_inside(fs::path(rel))) {
        fail(labels, where, "\"" + rel + "\"",
             "a path relative to the dataset folder, inside it (no absolute path or ..)");
      }
      if (options.num_classes > 0 && label >= options.num_classes) {
        fail(labels, where, "label " + std::to_string(label), class_bound(options.num_classes));
      }
      const std::string key = fs::path(rel).lexically_normal().generic_string();
      if (const auto first = line_of.find(key); first != line_of.end()) {
        fail(labels, where, "\"" + rel + "\" a second time (first on line " + std::to_string(first->second) + ")",
             "each image once, with one label");
      }
      line_of[key] = line_no;
      const fs::path full = fs::path(root) / rel;
      std::error_code missing;
      if (!fs::is_regular_file(full, missing)) {
        fail(labels, "line " + std::to_string(line_no), "\"" + rel + "\" (no such file under " + root + ")",
             "an existing image path relative to the dataset folder");
      }
      listed.push_back({full.string(), fs::path(rel).generic_string(), label});
    });
    if (listed.empty()) fail(labels, "label file", "no lines", "lines \"relative/path index\"");
    folder.images_ = std::move(listed);
  }

  if (folder.images_.empty()) {
    fail(root, "dataset folder", "no images (.jpg .jpeg .png) in class subfolders",
         "an ImageFolder layout: one subfolder of images per class");
  }
  folder.class_names_ = std::move(class_names);
  return folder;
}

std::vector<LabeledImage> select_images(const ImageFolder& folder, const std::string& list_file) {
  std::map<std::string, size_t> by_relative;
  for (size_t i = 0; i < folder.images().size(); ++i) by_relative[folder.images()[i].relative] = i;
  std::vector<LabeledImage> selected;
  for_each_line(list_file, "image list", "a readable list of relative paths", [&](const std::string& line, int line_no) {
    auto it = by_relative.find(fs::path(line).generic_string());
    if (it == by_relative.end()) {
      fail(list_file, "line " + std::to_string(line_no), "\"" + line + "\"",
           "an image of " + folder.root() + " (paths relative to it)");
    }
    selected.push_back(folder.images()[it->second]);
  });
  if (selected.empty()) fail(list_file, "image list", "no paths", "at least one image path");
  return selected;
}

}  // namespace fqvit
