// fqvit-calibrate: post-training calibration of a ViT/DeiT/Swin checkpoint with FQ-ViT's method, written as a
// quantized model file (docs/format.md). Defaults are the paper's: MinMax + PTF + LIS, W8/A8/Attn4.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <random>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/diagnosis.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/core/progress.h"
#include "fqvit/io/dataset.h"
#include "fqvit/io/output_paths.h"
#include "cli_common.h"

namespace {

struct Args {
  std::string model, calib, class_list, calib_list, config, out, method, numerics = "torch", report;
  int images = 1000, batch = 100, threads = 0, w_bits = 8, a_bits = 8, attn_bits = 4, decode_threads = 1;
  int report_images = 64;
  int64_t seed = 0;  // signed so that "-1" is refused rather than wrapped to 2^64 - 1
  bool ptf = true, lis = true;
};

void print_summary(const fqvit::Calibrator& calib, const fqvit::QuantState& state, double seconds, int64_t images) {
  int counts[4] = {};
  for (const auto& s : calib.activation_specs()) ++counts[static_cast<int>(s.role)];
  const auto& st = state.settings;
  std::printf("calibrated %lld images in %.1f s: method %s, PTF %s, LIS %s, W%d/A%d/Attn%d\n",
              static_cast<long long>(images), seconds, st.method.c_str(), st.ptf ? "on" : "off",
              st.lis ? "on" : "off", st.w_bits, st.a_bits, st.attn_bits);
  std::printf("  %zu weights (per-channel int%d), %d activation, %d residual (%s), %d attention (%s) quantizers\n",
              state.weights.size(), st.w_bits, counts[static_cast<int>(fqvit::QuantRole::kActivation)],
              counts[static_cast<int>(fqvit::QuantRole::kResidual)], st.ptf ? "PTF" : st.method.c_str(),
              counts[static_cast<int>(fqvit::QuantRole::kAttention)], st.lis ? "LIS" : "uniform");
  std::vector<long long> alpha(fqvit::kPtfMaxK + 1, 0);
  int max_alpha = fqvit::kPtfMaxAlpha;
  for (const auto& [name, q] : state.activations) {
    if (q->kind() != "ptf") continue;
    for (uint8_t a : static_cast<const fqvit::PtfQuantizer&>(*q).params().alpha) {
      ++alpha[a];
      max_alpha = std::max(max_alpha, static_cast<int>(a));
    }
  }
  if (st.ptf) {
    std::printf("  PTF channel factors 2^0..2^%d:", max_alpha);
    for (int a = 0; a <= max_alpha; ++a) std::printf("%s%lld", a ? "/" : " ", alpha[static_cast<size_t>(a)]);
    std::printf("\n");
  }
  if (st.extensions.any()) std::printf("  extensions: %s\n", st.to_json().c_str());
  for (const char* name : {"patch_embed.qact", "blocks.0.attn.qact_attn1", "act_out"}) {
    const auto it = state.activations.find(name);
    if (it != state.activations.end()) std::printf("  %-26s %s\n", name, it->second->summary().c_str());
  }
}

// The diagnosis (diagnosis.h) on the first --report-images calibration images, in micro-batches small enough that
// the FP32 tensors of every point fit in memory (about 30 MB per ViT-Tiny image).
void write_report(const Args& args, fqvit::VisionModel& model, const fqvit::QuantState& state,
                  std::vector<fqvit::LabeledImage> images) {
  constexpr int kReportBatch = 4;
  images.resize(std::min(images.size(), static_cast<size_t>(args.report_images)));
  fqvit::BatchLoader loader(images, model.config().preprocess, kReportBatch, args.decode_threads);
  std::vector<fqvit::Tensor> batches;
  fqvit::Batch batch;
  while (loader.next(&batch)) {
    if (batch.images.numel() > 0) batches.push_back(batch.images);
  }
  const fqvit::DiagnosisReport report = fqvit::diagnose_quantizers(model, state, batches);
  std::printf("\n%s", fqvit::diagnosis_table(report, 25).c_str());
  fqvit::write_diagnosis(report, args.report);
  std::printf("wrote the diagnosis of %zu quantizers to %s\n", report.rows.size(), args.report.c_str());
}

// Flags first, then every output path, so a mistake costs a second and not a calibration.
void check_command_line(const Args& args, const CLI::App& app) {
  fqvit::cli::check_range("--images", args.images, 1, std::numeric_limits<int>::max());
  fqvit::cli::check_range("--batch-size", args.batch, 1, 4096);
  fqvit::cli::check_range("--threads", args.threads, 0, 1024);
  fqvit::cli::check_range("--decode-threads", args.decode_threads, 1, 64);
  fqvit::cli::check_range("--seed", args.seed, 0, std::numeric_limits<int64_t>::max());
  fqvit::cli::check_given_once(app, "--ptf", "--ptf / --no-ptf");
  fqvit::cli::check_given_once(app, "--lis", "--lis / --no-lis");
  fqvit::cli::check_range("--report-images", args.report_images, 1, std::numeric_limits<int>::max());
  fqvit::check_output_paths({{"--out", args.out}, {"--report", args.report}},
                            {{"--model", args.model + "/model.safetensors"},
                             {"--model", args.model + "/config.json"},
                             {"--calib-list", args.calib_list},
                             {"--class-list", args.class_list},
                             {"--config", args.config}});
}

int run(const Args& args, const CLI::App& app) {
  check_command_line(args, app);
  fqvit::set_num_threads(args.threads);
  fqvit::QuantSettings settings;
  if (!args.config.empty()) settings = fqvit::load_quant_settings(args.config, settings);
  // Explicit flags override the config file.
  if (app.count("--method")) settings.method = args.method;
  if (app.count("--ptf") || app.count("--no-ptf")) settings.ptf = args.ptf;
  if (app.count("--lis") || app.count("--no-lis")) settings.lis = args.lis;
  if (app.count("--w-bits")) settings.w_bits = args.w_bits;
  if (app.count("--a-bits")) settings.a_bits = args.a_bits;
  if (app.count("--attn-bits")) settings.attn_bits = args.attn_bits;
  settings.validate("command line");

  auto model = fqvit::load_model(args.model);
  model->set_numerics(fqvit::parse_numerics(args.numerics, "command line", "--numerics"));
  const auto folder = fqvit::ImageFolder::open(args.calib, {args.class_list, "", model->config().num_classes});
  for (const std::string& why : folder.ignored()) spdlog::warn("not an image of the dataset: {}", why);
  fqvit::CalibrationInfo info;
  info.calib_dir = args.calib;
  info.class_list = args.class_list;
  info.seed = static_cast<uint64_t>(args.seed);
  info.batch_size = args.batch;
  info.numerics = args.numerics;
  info.images_requested = args.images;
  std::vector<fqvit::LabeledImage> images;
  if (!args.calib_list.empty()) {
    images = fqvit::select_images(folder, args.calib_list);
    info.order = "list";
    info.calib_list = args.calib_list;
  } else {
    images = folder.images();
    std::mt19937_64 rng(static_cast<uint64_t>(args.seed));
    std::shuffle(images.begin(), images.end(), rng);
    info.order = "shuffle";
  }
  if (images.empty()) fqvit::fail(args.calib, "images", "none", "at least one calibration image");
  if (static_cast<int64_t>(images.size()) < args.images) {
    spdlog::warn("{} has {} images, fewer than the {} asked for: calibrating on all of them", args.calib,
                 images.size(), args.images);
  } else {
    images.resize(static_cast<size_t>(args.images));
  }
  info.images_used = static_cast<int64_t>(images.size());

  fqvit::Calibrator calib(*model, settings);
  const auto start = std::chrono::steady_clock::now();
  const int64_t batches = (info.images_used + args.batch - 1) / args.batch;
  fqvit::BatchLoader loader(images, model->config().preprocess, args.batch, args.decode_threads);
  fqvit::ProgressBar progress("calibrate", info.images_used);
  fqvit::Batch batch;
  int64_t seen = 0, unreadable = 0;
  for (int64_t b = 0; b < batches && loader.next(&batch); ++b) {
    for (const std::string& e : batch.errors) spdlog::warn("skipped: {}", e);
    unreadable += static_cast<int64_t>(batch.errors.size());
    const bool last = b == batches - 1;
    const int64_t usable = batch.images.rank() > 0 ? batch.images.dim(0) : 0;
    if (usable == 0 && last) {
      // The last batch fixes the quantizers; without an image in it there is nothing to fix them from.
      fqvit::fail(args.calib, "last calibration batch", "no readable image (" + std::to_string(batch.errors.size()) +
                  " unreadable)", "at least one readable image in it");
    }
    if (usable > 0) calib.observe(batch.images, last);
    seen += usable;
    progress.advance(static_cast<int64_t>(batch.labels.size() + batch.errors.size()));
  }
  // Quantizers fitted on a handful of images are silently wrong: ask for one batch's worth of readable ones.
  const int64_t required = std::min<int64_t>(args.batch, info.images_used);
  if (seen < required) {
    fqvit::fail(args.calib, "readable calibration images",
                std::to_string(seen) + " (" + std::to_string(unreadable) + " of " +
                    std::to_string(info.images_used) + " unreadable)",
                "at least " + std::to_string(required) + " (one batch, --batch-size)");
  }
  info.images_used = seen;
  fqvit::QuantState state = calib.finish();
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fqvit::save_quantized_model(args.out, args.model, *model, state, info);  // calibration leaves weights as they are
  print_summary(calib, state, info.seconds, seen);
  std::printf("wrote %s\n", args.out.c_str());
  if (!args.report.empty()) write_report(args, *model, state, images);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-calibrate: FQ-ViT post-training calibration -> quantized model file"};
  fqvit::cli::show_defaults(app);
  Args args;
  app.add_option("--model", args.model, "checkpoint directory (model.safetensors + config.json)")->required();
  app.add_option("--calib", args.calib, "calibration ImageFolder directory")->required();
  app.add_option("--class-list", args.class_list, "class list: lines 'index wnid [name]' or one wnid per line");
  app.add_option("--images", args.images, "calibration images");
  app.add_option("--batch-size", args.batch, "images per batch, 1..4096; the last batch fixes the quantizers");
  app.add_option("--batch", args.batch, "old spelling of --batch-size")->group("");  // hidden alias
  app.add_option("--seed", args.seed, "seed of the image shuffle (std::mt19937_64), >= 0");
  app.add_option("--method", args.method, "activation observer: minmax | ema | percentile | omse (default minmax)");
  app.add_flag("--ptf,!--no-ptf", args.ptf,
               "Power-of-Two Factor on LayerNorm inputs + integer LayerNorm (on unless --no-ptf)");
  app.add_flag("--lis,!--no-lis", args.lis, "Log-Int-Softmax on attention (on unless --no-lis)");
  app.add_option("--w-bits", args.w_bits, "weight bits, 2..8");
  app.add_option("--a-bits", args.a_bits, "activation bits, 2..8");
  app.add_option("--attn-bits", args.attn_bits, "attention (softmax output) bits, 2..8");
  app.add_option("--calib-list", args.calib_list, "file of image paths relative to --calib fixing the order");
  app.add_option("--config", args.config, "quantization preset JSON (configs/*.json); flags override it");
  app.add_option("--numerics", args.numerics,
                 "float arithmetic of the calibration passes: torch (bit-identical to the PyTorch reference) or fast");
  app.add_option("--threads", args.threads, "compute threads, 0..1024 (0 = all cores)");
  app.add_option("--decode-threads", args.decode_threads, "background image decoding threads, 1..64");
  app.add_option("--report", args.report,
                 "also diagnose every quantizer (SQNR, cosine vs FP32, dominant channels) into this file "
                 "(.json: JSON, else a markdown table)");
  app.add_option("--report-images", args.report_images, "calibration images the diagnosis runs on (default 64)");
  app.add_option("--out", args.out, "quantized model file to write (.safetensors)")->required();
  if (const int status = fqvit::cli::parse(app, argc, argv, "fqvit-calibrate"); status >= 0) return status;
  try {
    return run(args, app);
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-calibrate: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // not an input error: a bug or the machine (memory, oneDNN)
    std::fprintf(stderr, "fqvit-calibrate: internal error: %s\n", e.what());
    return 2;
  }
}
