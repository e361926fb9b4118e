// fqvit::calibrate: the fqvit-calibrate pipeline (calibration_run.h) behind an options struct.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "api/thread_scope.h"
#include "fqvit/calibrate/calibration_run.h"
#include "fqvit/fqvit.h"
#include "fqvit/io/output_paths.h"
#include "fqvit/model/vision_model.h"

namespace fqvit {
namespace {

constexpr const char* kApi = "fqvit::calibrate";

QuantSettings settings_from(const CalibrateOptions& o) {
  QuantSettings settings;
  if (!o.config.empty()) settings = load_quant_settings(o.config, settings);
  // Set fields override the preset, as fqvit-calibrate's flags override --config.
  if (!o.method.empty()) settings.method = o.method;
  if (o.ptf < -1 || o.ptf > 1) fail(kApi, "ptf", std::to_string(o.ptf), "-1 (preset), 0 or 1");
  if (o.lis < -1 || o.lis > 1) fail(kApi, "lis", std::to_string(o.lis), "-1 (preset), 0 or 1");
  if (o.ptf != -1) settings.ptf = o.ptf == 1;
  if (o.lis != -1) settings.lis = o.lis == 1;
  if (o.w_bits != 0) settings.w_bits = o.w_bits;
  if (o.a_bits != 0) settings.a_bits = o.a_bits;
  if (o.attn_bits != 0) settings.attn_bits = o.attn_bits;
  settings.validate(kApi);
  return settings;
}

// `paths` as calibration images in their order, each checked to exist (a corrupt one is skipped when decoded).
std::vector<LabeledImage> listed_images(const std::vector<std::string>& paths, CalibrationInfo* info) {
  std::vector<LabeledImage> images;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!std::filesystem::is_regular_file(paths[i])) {
      fail(paths[i], "image_paths[" + std::to_string(i) + "]", "no such file", "an image file");
    }
    images.push_back({paths[i], paths[i], -1});
  }
  info->order = "list";
  info->images_requested = static_cast<int64_t>(images.size());
  info->images_used = static_cast<int64_t>(images.size());
  return images;
}

}  // namespace

CalibrationSummary calibrate(const CalibrateOptions& o) {
  if (o.model.empty()) fail(kApi, "model", "nothing", "a checkpoint directory");
  if (o.out.empty()) fail(kApi, "out", "nothing", "the quantized model file to write");
  if (o.images_dir.empty() == o.image_paths.empty()) {
    fail(kApi, "images_dir / image_paths", o.images_dir.empty() ? "neither" : "both", "exactly one of them");
  }
  if (o.images < 1) fail(kApi, "images", std::to_string(o.images), ">= 1");
  if (o.batch < 1) fail(kApi, "batch", std::to_string(o.batch), ">= 1");
  if (o.threads < 0) fail(kApi, "threads", std::to_string(o.threads), ">= 0");
  if (o.decode_threads < 1) fail(kApi, "decode_threads", std::to_string(o.decode_threads), ">= 1");
  // Outputs are checked before any work: a bad path fails at once and never replaces an input.
  check_output_paths({{"out", o.out}}, {{"model", o.model + "/model.safetensors"},
                                        {"model", o.model + "/config.json"},
                                        {"calib_list", o.calib_list},
                                        {"class_list", o.class_list},
                                        {"config", o.config}});
  const QuantSettings settings = settings_from(o);
  const Numerics numerics = parse_numerics(o.numerics, kApi, "numerics");
  const api::ThreadScope threads(o.threads);

  auto model = load_model(o.model);
  model->set_numerics(numerics);
  CalibrationInfo info;
  info.calib_dir = o.images_dir;
  info.class_list = o.class_list;
  info.numerics = o.numerics;
  std::vector<LabeledImage> images;
  if (!o.images_dir.empty()) {
    const auto folder = ImageFolder::open(o.images_dir, {o.class_list, "", model->config().num_classes});
    for (const std::string& why : folder.ignored()) spdlog::warn("not an image of the dataset: {}", why);
    images = choose_calibration_images(folder, o.calib_list, o.images, o.seed, &info);
  } else {
    images = listed_images(o.image_paths, &info);
  }
  Calibrator calib(*model, settings);
  const QuantState state = run_calibration(calib, model->config().preprocess, images,
                                           {o.batch, o.decode_threads, o.progress,
                                            o.images_dir.empty() ? kApi : o.images_dir, "batch"},
                                           &info);
  save_quantized_model(o.out, o.model, *model, state, info);
  return {o.out, info.images_used, info.seconds};
}

}  // namespace fqvit
