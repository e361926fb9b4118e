#include "fqvit/research/calibration_run.h"

#include "fqvit/calibrate/calibration_run.h"
#include "fqvit/calibrate/calibrator.h"
#include "fqvit/core/error.h"
#include "fqvit/io/dataset.h"

namespace fqvit {

CalibrationOutcome calibrate(VisionModel& model, const QuantSettings& settings, const CalibrationRequest& request) {
  settings.validate("quantization settings");
  if (request.images < 1) fail("calibration", "images", std::to_string(request.images), ">= 1");
  if (request.batch < 1) fail("calibration", "batch_size", std::to_string(request.batch), ">= 1");
  model.set_numerics(parse_numerics(request.numerics, "calibration", "numerics"));
  const auto folder = ImageFolder::open(request.calib, {request.class_list, "", model.config().num_classes});
  // fqvit-calibrate's own driver (calibrate/calibration_run.h): the same images in the same order and batches.
  CalibrationOutcome out;
  CalibrationInfo& info = out.info;
  info.calib_dir = request.calib;
  info.class_list = request.class_list;
  info.numerics = request.numerics;
  const std::vector<LabeledImage> images =
      choose_calibration_images(folder, request.calib_list, request.images, request.seed, &info);
  Calibrator calibrator(model, settings);
  CalibrationPasses passes;
  passes.batch_size = static_cast<int>(request.batch);
  passes.decode_threads = request.decode_threads;
  passes.progress = true;
  passes.origin = request.calib;
  passes.batch_name = "batch_size";
  out.state = run_calibration(calibrator, model.config().preprocess, images, passes, &info);
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
