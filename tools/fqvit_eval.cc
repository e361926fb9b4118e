// fqvit-eval: top-1 / top-5 and throughput of a model on an ImageNet-style folder.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/eval/engine.h"
#include "fqvit/eval/eval_record.h"
#include "fqvit/eval/evaluate.h"
#include "fqvit/io/atomic_file.h"
#include "fqvit/io/output_paths.h"
#include "fqvit/io/safetensors.h"
#include "cli_common.h"

namespace {

struct Args {
  std::string model, data, class_list, labels, engine, json_out, logits_out, numerics, shard;
  int batch_size = 8, threads = 0, limit = 0, decode_threads = 1;
  bool print_plan = false;
};

void write_json(const std::string& path, const fqvit::EvalRunInfo& info, const fqvit::EvalResult& r) {
  const nlohmann::json j = fqvit::eval_record(info, r);
  fqvit::write_file_atomically(path, [&](std::ostream& out) { out << j.dump(2) << "\n"; });
}

void write_logits(const std::string& path, const Args& args, const fqvit::EvalResult& r) {
  fqvit::SafetensorsWriter writer;
  writer.add("logits", r.logits);
  writer.set_metadata("images", nlohmann::json(r.image_paths).dump());
  writer.set_metadata("model", args.model);
  writer.set_metadata("engine", args.engine);
  writer.write(path);
}

// Flags first, then every output path, so a mistake costs a second and not an evaluation.
void check_command_line(const Args& args) {
  fqvit::cli::check_range("--batch-size", args.batch_size, 1, 4096);
  fqvit::cli::check_range("--threads", args.threads, 0, 1024);
  fqvit::cli::check_range("--decode-threads", args.decode_threads, 1, 64);
  fqvit::cli::check_range("--limit", args.limit, 0, std::numeric_limits<int>::max());
  const std::vector<fqvit::NamedPath> inputs = {{"--model", args.model},
                                                {"--model", args.model + "/model.safetensors"},
                                                {"--model", args.model + "/config.json"},
                                                {"--labels", args.labels},
                                                {"--class-list", args.class_list}};
  fqvit::check_output_paths({{"--json", args.json_out}, {"--save-logits", args.logits_out}}, inputs);
}

int run(Args args) {
  check_command_line(args);
  fqvit::set_num_threads(args.threads);
  if (args.engine.empty()) args.engine = fqvit::default_engine(args.model);
  std::optional<fqvit::Numerics> numerics;
  if (!args.numerics.empty()) numerics = fqvit::parse_numerics(args.numerics, "command line", "--numerics");
  const fqvit::Engine engine = fqvit::open_engine(args.engine, args.model, numerics);
  if (args.print_plan) {
    if (engine.plan.empty()) fqvit::fail("fqvit-eval", "--print-plan", "--engine " + args.engine, "--engine int");
    std::fputs(engine.plan.c_str(), stdout);
    if (args.data.empty()) return 0;
  }
  if (args.data.empty()) fqvit::fail("fqvit-eval", "--data", "missing", "an ImageFolder directory");
  const auto folder =
      fqvit::ImageFolder::open(args.data, {args.class_list, args.labels, engine.config.num_classes});
  for (const std::string& why : folder.ignored()) spdlog::warn("not an image of the dataset: {}", why);
  std::vector<fqvit::LabeledImage> images = folder.images();
  if (args.limit > 0 && static_cast<size_t>(args.limit) < images.size()) images.resize(static_cast<size_t>(args.limit));
  fqvit::EvalRunInfo info{args.engine, engine.numerics, args.model, args.data, args.class_list, args.labels,
                          args.limit, args.batch_size, 0, "", fqvit::image_list_fingerprint(images), {}};
  const fqvit::ImageSlice shard =
      args.shard.empty() ? fqvit::ImageSlice{} : fqvit::parse_shard(args.shard, "command line", "--shard");
  info.slice = fqvit::shard_slice(shard.index, shard.count, static_cast<int64_t>(images.size()));
  images = {images.begin() + info.slice.first, images.begin() + info.slice.end};
  spdlog::info("{} on {} images from {} ({} threads, batch {})", engine.config.architecture, images.size(), args.data,
               fqvit::num_threads(), args.batch_size);

  fqvit::EvalOptions options;
  options.batch_size = args.batch_size;
  options.decode_threads = args.decode_threads;
  options.keep_logits = !args.logits_out.empty();
  const fqvit::EvalResult r =
      engine.forward_pixels ? fqvit::evaluate(engine.forward_pixels, images, engine.config.preprocess, options)
                            : fqvit::evaluate(engine.forward, images, engine.config.preprocess, options);

  const long long n = r.images;
  std::printf("engine %s  model %s  numerics %s\n", args.engine.c_str(), engine.config.architecture.c_str(),
              engine.numerics.c_str());
  std::printf("top-1 %.2f%% (%lld of %lld correct)  top-5 %.2f%% (%lld of %lld)\n", r.top1(),
              static_cast<long long>(r.top1_correct), n, r.top5(), static_cast<long long>(r.top5_correct), n);
  std::printf("%.1f images/s end to end, %.1f images/s in the model\n", r.images_per_second(),
              r.model_seconds > 0 ? static_cast<double>(r.images) / r.model_seconds : 0.0);
  if (!r.skipped.empty()) std::printf("skipped %zu unreadable image(s)\n", r.skipped.size());
  if (r.nonfinite > 0) {
    std::printf("%lld image(s) gave NaN or inf logits: counted as wrong\n", static_cast<long long>(r.nonfinite));
  }
  const bool empty_shard = info.slice.first == info.slice.end;  // more shards than images: nothing to do
  if (r.images == 0 && !empty_shard) {
    // Nothing was evaluated: say why instead of printing 0% and leaving no file.
    fqvit::fail(args.data, "readable images", "none of " + std::to_string(images.size()) + " (" +
                std::to_string(r.skipped.size()) + " unreadable, see the warnings above)", "at least one");
  }
  if (!args.json_out.empty()) {
    info.threads = fqvit::num_threads();
    info.model_fingerprint = fqvit::model_fingerprint(args.model);
    write_json(args.json_out, info, r);
  }
  if (!args.logits_out.empty()) write_logits(args.logits_out, args, r);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-eval: top-1/top-5 and images/s of a ViT/DeiT/Swin on an ImageNet-style folder"};
  fqvit::cli::show_defaults(app);
  Args args;
  app.add_option("--model", args.model, "checkpoint directory (model.safetensors + config.json) or quantized file")
      ->required();
  app.add_option("--data", args.data, "ImageFolder directory (one subfolder per class)");
  app.add_option("--class-list", args.class_list, "class list: lines 'index wnid [name]' or one wnid per line");
  app.add_option("--labels", args.labels, "label file: lines 'relative/path index' (overrides folders)");
  app.add_option("--engine", args.engine,
                 "fp32 (float checkpoint directory; its default), int (quantized file, integer-only executor; its "
                 "default) or fake (quantized file, fake-quant in float as FQ-ViT)");
  app.add_flag("--print-plan", args.print_plan, "print the integer plan (one line per op) of --engine int");
  app.add_option("--numerics", args.numerics,
                 "float arithmetic: fast, or torch (bit-identical to the PyTorch reference); default fast for fp32, "
                 "for fake the one the file was calibrated on");
  app.add_option("--batch-size", args.batch_size, "images per forward pass, 1..4096");
  app.add_option("--threads", args.threads, "compute threads, 0..1024 (0 = all cores)");
  app.add_option("--decode-threads", args.decode_threads, "background image decoding threads, 1..64");
  app.add_option("--limit", args.limit, "evaluate only the first N images (0 = all)");
  app.add_option("--json", args.json_out, "write the summary and per-image predictions as JSON");
  app.add_option("--shard", args.shard, "evaluate only shard I of N (0-based contiguous blocks of the image list); "
                 "fqvit-report --merge adds the shards' JSON up");
  app.add_option("--save-logits", args.logits_out, "write logits [images, classes] as safetensors");
  if (const int status = fqvit::cli::parse(app, argc, argv, "fqvit-eval"); status >= 0) return status;
  try {
    return run(args);
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-eval: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // not an input error: a bug or the machine (memory, oneDNN)
    std::fprintf(stderr, "fqvit-eval: internal error: %s\n", e.what());
    return 2;
  }
}
