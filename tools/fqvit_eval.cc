// fqvit-eval: top-1 / top-5 and throughput of a model on an ImageNet-style folder.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fqvit/core/error.h"
#include "fqvit/core/parallel.h"
#include "fqvit/eval/engine.h"
#include "fqvit/eval/evaluate.h"
#include "fqvit/io/atomic_file.h"
#include "fqvit/io/safetensors.h"

namespace {

struct Args {
  std::string model, data, class_list, labels, engine, json_out, logits_out, numerics;
  int batch_size = 8, threads = 0, limit = 0, decode_threads = 1;
  bool print_plan = false;
};

void write_json(const std::string& path, const Args& args, const fqvit::EvalResult& r) {
  const nlohmann::json j = {
      {"top1", r.top1()},
      {"top5", r.top5()},
      {"images", r.images},
      {"top1_correct", r.top1_correct},
      {"top5_correct", r.top5_correct},
      {"images_per_second", r.images_per_second()},
      {"model_images_per_second", r.model_seconds > 0 ? static_cast<double>(r.images) / r.model_seconds : 0.0},
      {"skipped", r.skipped.size()},
      {"engine", args.engine},
      {"numerics", args.numerics.empty() ? "default" : args.numerics},
      {"model", args.model},
      {"data", args.data},
      {"batch_size", args.batch_size},
      {"threads", fqvit::num_threads()},
  };
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

int run(Args args) {
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
  const auto folder = fqvit::ImageFolder::open(args.data, {args.class_list, args.labels});
  std::vector<fqvit::LabeledImage> images = folder.images();
  if (args.limit > 0 && static_cast<size_t>(args.limit) < images.size()) images.resize(static_cast<size_t>(args.limit));
  spdlog::info("{} on {} images from {} ({} threads, batch {})", engine.config.architecture, images.size(), args.data,
               fqvit::num_threads(), args.batch_size);

  fqvit::EvalOptions options;
  options.batch_size = args.batch_size;
  options.decode_threads = args.decode_threads;
  options.keep_logits = !args.logits_out.empty();
  const fqvit::EvalResult r =
      engine.forward_pixels ? fqvit::evaluate(engine.forward_pixels, images, engine.config.preprocess, options)
                            : fqvit::evaluate(engine.forward, images, engine.config.preprocess, options);

  std::printf("engine %s  model %s\n", args.engine.c_str(), engine.config.architecture.c_str());
  std::printf("top-1 %.2f%%  top-5 %.2f%%  (%lld images, %lld / %lld correct)\n", r.top1(), r.top5(),
              static_cast<long long>(r.images), static_cast<long long>(r.top1_correct),
              static_cast<long long>(r.top5_correct));
  std::printf("%.1f images/s end to end, %.1f images/s in the model\n", r.images_per_second(),
              r.model_seconds > 0 ? static_cast<double>(r.images) / r.model_seconds : 0.0);
  if (!r.skipped.empty()) std::printf("skipped %zu unreadable image(s)\n", r.skipped.size());
  if (!args.json_out.empty()) write_json(args.json_out, args, r);
  if (!args.logits_out.empty()) write_logits(args.logits_out, args, r);
  return r.images > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-eval: top-1/top-5 and images/s of a ViT/DeiT/Swin on an ImageNet-style folder"};
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
  app.add_option("--batch-size", args.batch_size, "images per forward pass")->check(CLI::Range(1, 4096));
  app.add_option("--threads", args.threads, "compute threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app.add_option("--decode-threads", args.decode_threads, "background image decoding threads")
      ->check(CLI::Range(1, 64));
  app.add_option("--limit", args.limit, "evaluate only the first N images (0 = all)")->check(CLI::NonNegativeNumber);
  app.add_option("--json", args.json_out, "write the summary as JSON");
  app.add_option("--save-logits", args.logits_out, "write logits [images, classes] as safetensors");
  CLI11_PARSE(app, argc, argv);
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
