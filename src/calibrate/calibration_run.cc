#include "fqvit/calibrate/calibration_run.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>

#include "fqvit/core/error.h"
#include "fqvit/core/progress.h"

namespace fqvit {

std::vector<LabeledImage> choose_calibration_images(const ImageFolder& folder, const std::string& calib_list,
                                                    int64_t count, uint64_t seed, CalibrationInfo* info) {
  std::vector<LabeledImage> images;
  if (!calib_list.empty()) {
    images = select_images(folder, calib_list);
    info->order = "list";
    info->calib_list = calib_list;
  } else {
    images = folder.images();
    std::mt19937_64 rng(seed);
    std::shuffle(images.begin(), images.end(), rng);
    info->order = "shuffle";
  }
  info->seed = seed;
  info->images_requested = count;
  if (images.empty()) fail(folder.root(), "images", "none", "at least one calibration image");
  if (static_cast<int64_t>(images.size()) < count) {
    spdlog::warn("{} has {} images, fewer than the {} asked for: calibrating on all of them", folder.root(),
                 images.size(), count);
  } else {
    images.resize(static_cast<size_t>(count));
  }
  info->images_used = static_cast<int64_t>(images.size());
  return images;
}

QuantState run_calibration(Calibrator& calib, const PreprocessConfig& preprocess,
                           const std::vector<LabeledImage>& images, const CalibrationPasses& passes,
                           CalibrationInfo* info) {
  const int batch_size = passes.batch_size;
  if (batch_size < 1) fail(passes.origin, passes.batch_name, std::to_string(batch_size), ">= 1");
  if (images.empty()) fail(passes.origin, "images", "none", "at least one calibration image");
  const auto start = std::chrono::steady_clock::now();
  const int64_t total = static_cast<int64_t>(images.size());
  const int64_t batches = (total + batch_size - 1) / batch_size;
  BatchLoader loader(images, preprocess, batch_size, passes.decode_threads);
  std::optional<ProgressBar> bar;
  if (passes.progress) bar.emplace("calibrate", total);
  Batch batch;
  int64_t seen = 0, unreadable = 0;
  for (int64_t b = 0; b < batches && loader.next(&batch); ++b) {
    for (const std::string& e : batch.errors) spdlog::warn("skipped: {}", e);
    unreadable += static_cast<int64_t>(batch.errors.size());
    const bool last = b == batches - 1;
    const int64_t usable = batch.images.rank() > 0 ? batch.images.dim(0) : 0;
    if (usable == 0 && last) {
      // The last batch fixes the quantizers; without an image in it there is nothing to fix them from.
      fail(passes.origin, "last calibration batch",
           "no readable image (" + std::to_string(batch.errors.size()) + " unreadable)",
           "at least one readable image in it");
    }
    if (usable > 0) calib.observe(batch.images, last);
    seen += usable;
    if (bar) bar->advance(static_cast<int64_t>(batch.labels.size() + batch.errors.size()));
  }
  const int64_t required = std::min<int64_t>(batch_size, total);
  if (seen < required) {
    fail(passes.origin, "readable calibration images",
         std::to_string(seen) + " (" + std::to_string(unreadable) + " of " + std::to_string(total) + " unreadable)",
         "at least " + std::to_string(required) + " (one batch, " + passes.batch_name + ")");
  }
  QuantState state = calib.finish();
  info->images_used = seen;
  info->batch_size = batch_size;
  info->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return state;
}

}  // namespace fqvit
