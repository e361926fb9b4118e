// fqvit-inspect: the FQ-ViT paper's pictures for any model: LayerNorm-input channel ranges (why PTF), one image's
// attention maps in FP32, uniform 4-bit and LIS 4-bit (why LIS), and every quantizer's error against FP32.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/io/atomic_file.h"
#include "fqvit/io/dataset.h"
#include "fqvit/research/activation_probe.h"
#include "cli_common.h"
#include "fqvit/research/calibration_run.h"
#include "fqvit/research/inspect_pictures.h"
#include "fqvit/research/quantizer_error.h"
#include "fqvit/research/sweep_config.h"

namespace {

namespace fs = std::filesystem;

struct Args {
  std::string model, calib, class_list, out_dir, config, image, point, numerics = "torch";
  int64_t images = 1000, batch = 100, probe_images = 8;
  uint64_t seed = 0;
  int threads = 0;
};

fqvit::Tensor load_images(const std::vector<fqvit::LabeledImage>& list, const fqvit::PreprocessConfig& preprocess) {
  fqvit::BatchLoader loader(list, preprocess, static_cast<int>(list.size()));
  fqvit::Batch batch;
  if (!loader.next(&batch) || batch.images.empty()) {
    fqvit::fail(list.empty() ? "fqvit-inspect" : list.front().path, "images", "none decodable",
                "at least one image to probe");
  }
  for (const std::string& e : batch.errors) spdlog::warn("skipped: {}", e);
  return batch.images;
}

void write_text(const std::string& path, const std::string& text) {
  fqvit::write_file_atomically(path, [&](std::ostream& out) { out << text; });
  std::printf("wrote %s\n", path.c_str());
}

int run(const Args& a) {
  fqvit::cli::check_range("--images", a.images, 1, int64_t{1} << 30);
  fqvit::cli::check_range("--batch-size", a.batch, 1, 4096);
  fqvit::cli::check_range("--probe-images", a.probe_images, 1, 4096);
  fqvit::cli::check_range("--threads", a.threads, 0, 1024);
  fqvit::set_num_threads(a.threads);
  fqvit::QuantSettings lis_settings;  // the paper's FQ-ViT: MinMax + PTF + LIS, W8/A8/Attn4
  fqvit::QuantSettings uniform_settings = lis_settings;
  uniform_settings.lis = false;  // the same, with a uniform 4-bit softmax output
  fqvit::QuantSettings error_settings = a.config.empty() ? lis_settings : fqvit::load_quant_settings(a.config);

  std::unique_ptr<fqvit::VisionModel> model = fqvit::load_model(a.model);
  model->set_numerics(fqvit::parse_numerics(a.numerics, "command line", "--numerics"));
  const std::string name = model->config().architecture;
  // Probe images: the first of the calibration order (a seeded shuffle, as fqvit-calibrate).
  const auto folder = fqvit::ImageFolder::open(a.calib, {a.class_list, "", model->config().num_classes});
  std::vector<fqvit::LabeledImage> order = folder.images();
  std::mt19937_64 rng(a.seed);
  std::shuffle(order.begin(), order.end(), rng);
  order.resize(std::min(order.size(), static_cast<size_t>(a.probe_images)));
  const fqvit::Tensor probes = load_images(order, model->config().preprocess);
  std::vector<fqvit::LabeledImage> one = {order.front()};
  if (!a.image.empty()) one = {{a.image, fs::path(a.image).filename().string(), 0}};
  const fqvit::Tensor image = load_images(one, model->config().preprocess);

  const std::vector<std::string> points = fqvit::attention_points(*model);
  const std::string point = a.point.empty() ? points[points.size() / 2] : a.point;
  fs::create_directories(a.out_dir);
  nlohmann::json summary = {{"model", a.model},
                            {"architecture", name},
                            {"probe_images", probes.dim(0)},
                            {"attention_image", one.front().path},
                            {"attention_point", point}};

  // (a) LayerNorm inputs, FP32.
  const auto ranges = fqvit::layer_norm_input_ranges(*model, probes);
  write_text(a.out_dir + "/layernorm_inputs.svg",
             fqvit::layer_norm_ranges_svg(ranges, name + ": channel-wise min / max of every LayerNorm input (FP32, " +
                                                      std::to_string(probes.dim(0)) + " calibration images)"));
  for (const auto& r : ranges) summary["layernorm_inputs"][r.point] = {{"min", r.min}, {"max", r.max}};

  // (b) Attention maps: FP32, uniform 4-bit, LIS 4-bit, each calibrated as fqvit-calibrate would.
  fqvit::CalibrationRequest request;
  request.model = a.model;
  request.calib = a.calib;
  request.class_list = a.class_list;
  request.images = a.images;
  request.batch = a.batch;
  request.seed = a.seed;
  request.numerics = a.numerics;
  std::printf("calibrating MinMax+PTF 8/8/4 (uniform attention) and MinMax+PTF+LIS 8/8/4 on %s\n", a.calib.c_str());
  std::fflush(stdout);
  const fqvit::CalibrationOutcome uniform = fqvit::calibrate(*model, uniform_settings, request);
  const fqvit::CalibrationOutcome lis = fqvit::calibrate(*model, lis_settings, request);
  model->set_numerics(fqvit::parse_numerics(a.numerics, "command line", "--numerics"));
  const std::vector<std::pair<std::string, fqvit::AttentionMaps>> columns = {
      {"FP32", fqvit::capture_attention(*model, nullptr, image, point)},
      {"uniform 4-bit", fqvit::capture_attention(*model, &uniform.state, image, point)},
      {"LIS 4-bit", fqvit::capture_attention(*model, &lis.state, image, point)},
  };
  const int heads = fqvit::attention_heads(model->config(), point);
  write_text(a.out_dir + "/attention_maps.svg",
             fqvit::attention_maps_svg(columns, std::min(heads, 4), name + ": attention at " + point,
                                       "image " + one.front().relative));

  // (c) Per-quantizer error of the error setting (default: the LIS state just calibrated).
  const fqvit::CalibrationOutcome error_state =
      a.config.empty() ? fqvit::CalibrationOutcome{} : fqvit::calibrate(*model, error_settings, request);
  const fqvit::QuantState& state = a.config.empty() ? lis.state : error_state.state;
  const auto errors = fqvit::measure_quantizer_errors(*model, state, probes);
  const std::string setting = fqvit::method_label(error_settings) + " " + fqvit::bits_label(error_settings);
  write_text(a.out_dir + "/quantizer_error.svg",
             fqvit::quantizer_error_svg(errors, name + ", " + setting + ": per-quantizer error on " +
                                                    std::to_string(probes.dim(0)) + " calibration images"));
  write_text(a.out_dir + "/quantizer_error.md", fqvit::quantizer_error_markdown(errors));
  for (const auto& e : errors) {
    summary["quantizer_error"].push_back({{"name", e.name},
                                          {"role", e.role},
                                          {"kind", e.kind},
                                          {"bits", e.bits},
                                          {"sqnr_fp32_db", e.sqnr_fp32_db},
                                          {"cosine_fp32", e.cosine_fp32},
                                          {"sqnr_db", e.sqnr_db},
                                          {"cosine", e.cosine}});
  }
  summary["quantizer_error_setting"] = nlohmann::json::parse(error_settings.to_json());
  write_text(a.out_dir + "/inspect.json", summary.dump(1) + "\n");
  std::printf("worst quantizers against FP32:\n");
  for (size_t i = 0; i < std::min<size_t>(5, errors.size()); ++i) {
    std::printf("  %-32s %6.1f dB  cosine %.4f\n", errors[i].name.c_str(), errors[i].sqnr_fp32_db,
                errors[i].cosine_fp32);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fqvit-inspect: LayerNorm-input ranges, attention maps (FP32 / uniform 4-bit / LIS 4-bit) and "
      "per-quantizer SQNR / cosine of a model, as SVG pictures"};
  fqvit::cli::show_defaults(app);
  Args a;
  app.add_option("--model", a.model, "checkpoint directory (model.safetensors + config.json)")->required();
  app.add_option("--calib", a.calib, "calibration ImageFolder")->required();
  app.add_option("--class-list", a.class_list, "class list of the calibration folder");
  app.add_option("--out-dir", a.out_dir, "where the pictures go")->required();
  app.add_option("--images", a.images, "calibration images, as the paper");
  app.add_option("--batch-size", a.batch, "calibration images per batch, 1..4096");
  app.add_option("--seed", a.seed, "calibration shuffle seed (std::mt19937_64), >= 0");
  app.add_option("--probe-images", a.probe_images, "first calibration images the ranges and errors are measured on");
  app.add_option("--image", a.image, "image whose attention is drawn (default: the first probe image)");
  app.add_option("--attention", a.point,
                 "attention point, e.g. blocks.5.attn.log_int_softmax (default: the middle one)");
  app.add_option("--config", a.config, "quantization preset of the error table (default MinMax+PTF+LIS 8/8/4)");
  app.add_option("--numerics", a.numerics, "float arithmetic: torch (as calibration) or fast");
  app.add_option("--threads", a.threads, "compute threads, 0..1024 (0 = all cores)");
  if (const int status = fqvit::cli::parse(app, argc, argv, "fqvit-inspect"); status >= 0) return status;
  try {
    return run(a);
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-inspect: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fqvit-inspect: internal error: %s\n", e.what());
    return 2;
  }
}
