// ImageFolder datasets (one subfolder per class) with ImageNet-safe labels, and a prefetching batch loader that
// decodes and preprocesses images on a background thread while the model runs.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fqvit/core/tensor.h"
#include "fqvit/io/model_config.h"

namespace fqvit {

struct LabeledImage {
  std::string path;      // full path
  std::string relative;  // path relative to the dataset root, '/'-separated ("n01440764/x.JPEG")
  int label = -1;
};

struct DatasetOptions {
  // Class list: lines "index wnid [name]" or one wnid per line (index = line number). When given, a folder's class
  // index is its wnid's index there, so a subset of folders keeps ImageNet indices.
  std::string class_list;
  // Label file: lines "relative/path index"; overrides folder-derived labels and fixes the image list and order.
  std::string labels_file;
  // The model's classes (0 = unknown): labels and class-list indices must be below it, and without a class list or
  // label file the folder may not hold more class folders than this.
  int num_classes = 0;
};

class ImageFolder {
 public:
  // Lists images (.jpg .jpeg .png, any case) in sorted order (ImageFolder order: sorted class folders, then sorted
  // files). Throws Error for a missing or empty folder, an unknown wnid, a label file naming a missing file, a file
  // outside the folder or an image twice, and a label or class index the model does not have.
  static ImageFolder open(const std::string& root, const DatasetOptions& options = {});

  const std::string& root() const { return root_; }
  const std::vector<LabeledImage>& images() const { return images_; }
  // Class names by index when known (class list, or sorted folder names).
  const std::vector<std::string>& class_names() const { return class_names_; }
  // Entries of the class folders that are not listed as images, one line each ("<path>: <why>"): other image
  // formats (.webp .bmp .gif ...), broken symlinks, nested folders. Callers report them.
  const std::vector<std::string>& ignored() const { return ignored_; }

 private:
  std::string root_;
  std::vector<LabeledImage> images_;
  std::vector<std::string> class_names_;
  std::vector<std::string> ignored_;
};

// Reads a list of paths relative to `root` (one per line, blank lines ignored) and resolves each against the folder's
// images, in the list's order (calibration order files). Throws Error naming the list file and line for a path that
// is not in the folder.
std::vector<LabeledImage> select_images(const ImageFolder& folder, const std::string& list_file);

// What a batch carries: normalized float images, or the uint8 center crops before ToTensor (the integer engine's
// input, which never sees a float).
enum class BatchContent { kNormalized, kPixels };

struct Batch {
  Tensor images;                  // [n, 3, S, S], n <= batch size (corrupt images are left out); kNormalized
  std::vector<uint8_t> pixels;    // [n][3][S][S] uint8 CHW crops; kPixels
  std::vector<int> labels;        // n
  std::vector<size_t> indices;    // n: positions in the loader's image list
  std::vector<std::string> errors;  // one line per image that failed to decode, skipped
};

// Decodes and preprocesses `images` in order into batches on `threads` background threads, keeping at most
// `prefetch` batches ready, so the model never waits on JPEG when decoding is faster than inference.
class BatchLoader {
 public:
  BatchLoader(std::vector<LabeledImage> images, PreprocessConfig config, int batch_size, int threads = 1,
              int prefetch = 2, BatchContent content = BatchContent::kNormalized);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Next batch in order; false when all images were delivered.
  bool next(Batch* batch);
  size_t size() const { return images_.size(); }

 private:
  void worker();
  Batch load_batch(size_t index) const;

  std::vector<LabeledImage> images_;
  PreprocessConfig config_;
  size_t batch_size_;
  size_t prefetch_;
  size_t num_batches_;
  BatchContent content_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<size_t, Batch> done_;  // decoded batches waiting for next()
  size_t next_to_claim_ = 0;    // batch index the next worker takes
  size_t next_to_deliver_ = 0;  // batch index next() returns
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace fqvit
