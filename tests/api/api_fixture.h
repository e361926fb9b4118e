// Shared inputs of the API tests: an ImageFolder of the committed test images (two class folders), a class list,
// and a quantized model calibrated on those images from the committed small random ViT by fqvit-calibrate (the
// CLI, so that the API is checked against it rather than against itself). Built once per test process.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fqvit/fqvit.h"
#include "tools/cli_runner.h"
#include "test_paths.h"

namespace fqvit::testing {

struct ApiData {
  std::string dir;          // scratch root
  std::string data;         // ImageFolder: data/a, data/b
  std::string calib_list;   // every image, relative to data, in a fixed order
  std::string class_list;   // 10 names: "0 w0 class zero", ...
  std::string checkpoint;   // float checkpoint directory
  std::string quantized;    // from fqvit-calibrate
  std::vector<std::string> images;  // full paths in ImageFolder order (sorted folders, then files)
  std::string error;        // set when setting up failed
};

inline const ApiData& api_data() {
  static const ApiData data = [] {
    namespace fs = std::filesystem;
    ApiData d;
    d.dir = scratch_dir("api_data_" + std::to_string(::getpid()));
    d.data = d.dir + "/data";
    d.checkpoint = source_dir() + "/tests/data/models/vit_small_random_committed";
    std::vector<fs::path> sources;
    for (const auto& e : fs::directory_iterator(source_dir() + "/tests/data/images")) {
      const std::string ext = e.path().extension().string();
      if (ext == ".jpg" || ext == ".png") sources.push_back(e.path());
    }
    std::sort(sources.begin(), sources.end());
    std::ofstream list(d.dir + "/calib_list.txt");
    for (size_t i = 0; i < sources.size(); ++i) {
      const std::string folder = i % 2 == 0 ? "a" : "b";
      fs::create_directories(d.data + "/" + folder);
      fs::copy_file(sources[i], d.data + "/" + folder + "/" + sources[i].filename().string());
      list << folder << "/" << sources[i].filename().string() << "\n";
    }
    list.close();
    for (const char* folder : {"a", "b"}) {
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(d.data + "/" + folder)) files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      d.images.insert(d.images.end(), files.begin(), files.end());
    }
    d.calib_list = d.dir + "/calib_list.txt";
    d.class_list = d.dir + "/classes.txt";
    std::ofstream classes(d.class_list);
    for (int c = 0; c < 10; ++c) classes << c << " w" << c << " class number " << c << "\n";
    classes.close();
    d.quantized = d.dir + "/vit.w8a8attn4.safetensors";
    const auto r = run_cli("fqvit-calibrate", "--model " + d.checkpoint + " --calib " + d.data + " --calib-list " +
                                                  d.calib_list + " --batch-size 8 --threads 1 --out " + d.quantized);
    if (r.exit_code != 0) d.error = r.output;
    return d;
  }();
  return data;
}

}  // namespace fqvit::testing

namespace fqvit {

inline LoadOptions one_thread() {
  LoadOptions o;
  o.threads = 1;
  return o;
}
inline LoadOptions with_classes(const std::string& class_list) {
  LoadOptions o = one_thread();
  o.class_list = class_list;
  return o;
}
inline LoadOptions engine_named(const std::string& engine) {
  LoadOptions o = one_thread();
  o.engine = engine;
  return o;
}
inline LoadOptions numerics_named(const std::string& numerics) {
  LoadOptions o = one_thread();
  o.numerics = numerics;
  return o;
}

}  // namespace fqvit
