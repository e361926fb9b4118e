// The calibration driver shared by fqvit-calibrate and the public API: which images calibrate (a fixed list, or a
// seeded shuffle of a folder), and the batched passes over them that fit every quantizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/io/dataset.h"

namespace fqvit {

// The first `count` images of `folder` in the order of `calib_list` (paths relative to the folder) when given, else
// of the folder shuffled by std::mt19937_64(seed). Fewer images than `count` is a warning, none is an Error. Records
// the choice in `info` (order, calib_list, seed, images_requested, images_used).
std::vector<LabeledImage> choose_calibration_images(const ImageFolder& folder, const std::string& calib_list,
                                                    int64_t count, uint64_t seed, CalibrationInfo* info);

struct CalibrationPasses {
  int batch_size = 100;        // the last batch fixes the quantizers
  int decode_threads = 1;      // background decoding threads
  bool progress = false;       // a progress bar on stderr
  std::string origin;          // names the images in errors (the folder, or "fqvit::calibrate")
  std::string batch_name;      // names the batch size setting in errors ("--batch-size", "batch")
};

// Runs `images` through `calib` in batches; a corrupt image is skipped with a warning. Throws Error when the last
// batch has no readable image or fewer than one batch's worth (min(batch, images)) are readable: quantizers fitted
// on a handful of images are silently wrong. Records images_used, batch_size and seconds in `info`.
QuantState run_calibration(Calibrator& calib, const PreprocessConfig& preprocess,
                           const std::vector<LabeledImage>& images, const CalibrationPasses& passes,
                           CalibrationInfo* info);

}  // namespace fqvit
