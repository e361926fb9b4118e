// libFuzzer target for the text files a user hands to ImageFolder: the class list (--class-list), the label file
// (--labels) and the calibration order (--calib-list). The first byte picks the file, the rest is its text; a fixed
// two-class folder stands behind it. Any input either lists images inside the folder with labels below the model's
// classes, or throws fqvit::Error; anything else is a crash.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fqvit/core/error.h"
#include "fqvit/io/dataset.h"

namespace {

constexpr int kClasses = 10;

// <tmp>/fqvit-label-fuzz-<pid>/data/{n01/a.jpg, n01/b.png, n02/c.jpg}; the images are only listed, never decoded.
const std::string& scratch() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    const fs::path d = fs::temp_directory_path() / ("fqvit-label-fuzz-" + std::to_string(::getpid()));
    for (const char* f : {"data/n01/a.jpg", "data/n01/b.png", "data/n02/c.jpg"}) {
      fs::create_directories((d / f).parent_path());
      std::ofstream(d / f) << "x";
    }
    return d.string();
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int which = data[0] % 3;
  const std::string text_path = scratch() + "/list.txt";
  {
    std::ofstream out(text_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  const std::string root = scratch() + "/data";
  try {
    fqvit::DatasetOptions options;
    options.num_classes = kClasses;
    if (which == 0) options.class_list = text_path;
    if (which == 1) options.labels_file = text_path;
    const fqvit::ImageFolder folder = fqvit::ImageFolder::open(root, options);
    const auto images = which == 2 ? fqvit::select_images(folder, text_path) : folder.images();
    for (const auto& image : images) {
      if (image.label >= kClasses || image.relative.empty() || image.relative.rfind("..", 0) == 0 ||
          image.relative.front() == '/') {
        __builtin_trap();
      }
    }
  } catch (const fqvit::Error&) {
  }
  return 0;
}
