#include "fqvit/research/calibration_run.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/core/error.h"
#include "fqvit/core/progress.h"
#include "fqvit/io/dataset.h"

namespace fqvit {

CalibrationOutcome calibrate(VisionModel& model, const QuantSettings& settings, const CalibrationRequest& request) {
  settings.validate("quantization settings");
  if (request.images < 1) fail("calibration", "images", std::to_string(request.images), ">= 1");
  if (request.batch < 1) fail("calibration", "batch_size", std::to_string(request.batch), ">= 1");
  model.set_numerics(parse_numerics(request.numerics, "calibration", "numerics"));
  const auto folder = ImageFolder::open(request.calib, {request.class_list, "", model.config().num_classes});
  // The same order as fqvit-calibrate: the list's, or a std::mt19937_64 shuffle with the seed.
  std::vector<LabeledImage> images;
  if (!request.calib_list.empty()) {
    images = select_images(folder, request.calib_list);
  } else {
    images = folder.images();
    std::mt19937_64 rng(request.seed);
    std::shuffle(images.begin(), images.end(), rng);
  }
  if (images.empty()) fail(request.calib, "images", "none", "at least one calibration image");
  if (static_cast<int64_t>(images.size()) > request.images) {
    images.resize(static_cast<size_t>(request.images));
  } else if (static_cast<int64_t>(images.size()) < request.images) {
    spdlog::warn("{} has {} images, fewer than the {} asked for: calibrating on all of them", request.calib,
                 images.size(), request.images);
  }

  CalibrationOutcome out;
  CalibrationInfo& info = out.info;
  info.calib_dir = request.calib;
  info.class_list = request.class_list;
  info.seed = request.seed;
  info.batch_size = request.batch;
  info.numerics = request.numerics;
  info.images_requested = request.images;
  info.order = request.calib_list.empty() ? "shuffle" : "list";
  info.calib_list = request.calib_list;

  Calibrator calibrator(model, settings);
  const auto start = std::chrono::steady_clock::now();
  const auto total = static_cast<int64_t>(images.size());
  const int64_t batches = (total + request.batch - 1) / request.batch;
  BatchLoader loader(images, model.config().preprocess, static_cast<int>(request.batch), request.decode_threads);
  ProgressBar progress("calibrate", total);
  Batch batch;
  int64_t seen = 0;
  for (int64_t b = 0; b < batches && loader.next(&batch); ++b) {
    for (const std::string& e : batch.errors) spdlog::warn("skipped: {}", e);
    calibrator.observe(batch.images, b == batches - 1);
    seen += batch.images.dim(0);
    progress.advance(static_cast<int64_t>(batch.labels.size() + batch.errors.size()));
  }
  info.images_used = seen;
  out.state = calibrator.finish();
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

CalibrationInfo calibrate_to_file(const QuantSettings& settings, const CalibrationRequest& request,
                                  const std::string& out) {
  std::unique_ptr<VisionModel> model = load_model(request.model);
  CalibrationOutcome result = calibrate(*model, settings, request);
  save_quantized_model(out, request.model, *model, result.state, result.info);
  return result.info;
}

}  // namespace fqvit
