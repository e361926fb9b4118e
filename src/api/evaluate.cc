// fqvit::evaluate: fqvit-eval's run (engine, ImageFolder, top-1 / top-5) returning its --json object.
#include <omp.h>
#include <spdlog/spdlog.h>

#include "api/thread_scope.h"
#include "fqvit/eval/engine.h"
#include "fqvit/eval/eval_record.h"
#include "fqvit/fqvit.h"

namespace fqvit {
namespace {

constexpr const char* kApi = "fqvit::evaluate";

}  // namespace

EvaluationReport evaluate(const EvaluateOptions& o) {
  if (o.model.empty()) fail(kApi, "model", "nothing", "a quantized model file or a checkpoint directory");
  if (o.data.empty()) fail(kApi, "data", "nothing", "an ImageFolder directory");
  if (o.batch_size < 1) fail(kApi, "batch_size", std::to_string(o.batch_size), ">= 1");
  if (o.threads < 0) fail(kApi, "threads", std::to_string(o.threads), ">= 0");
  if (o.decode_threads < 1) fail(kApi, "decode_threads", std::to_string(o.decode_threads), ">= 1");
  if (o.limit < 0) fail(kApi, "limit", std::to_string(o.limit), ">= 0");
  const api::ThreadScope threads(o.threads);
  std::optional<Numerics> numerics;
  if (!o.numerics.empty()) numerics = parse_numerics(o.numerics, kApi, "numerics");
  const std::string engine_name = o.engine.empty() ? default_engine(o.model) : o.engine;
  const Engine engine = open_engine(engine_name, o.model, numerics);
  const auto folder = ImageFolder::open(o.data, {o.class_list, o.labels, engine.config.num_classes});
  for (const std::string& why : folder.ignored()) spdlog::warn("not an image of the dataset: {}", why);
  std::vector<LabeledImage> images = folder.images();
  if (o.limit > 0 && static_cast<size_t>(o.limit) < images.size()) images.resize(static_cast<size_t>(o.limit));
  EvalRunInfo info{engine_name, engine.numerics, o.model, o.data, o.class_list, o.labels, o.limit,
                   o.batch_size, 0, "", image_list_fingerprint(images), {}};
  const ImageSlice shard = o.shard.empty() ? ImageSlice{} : parse_shard(o.shard, kApi, "shard");
  info.slice = shard_slice(shard.index, shard.count, static_cast<int64_t>(images.size()));
  images = {images.begin() + info.slice.first, images.begin() + info.slice.end};

  EvalOptions options;
  options.batch_size = o.batch_size;
  options.decode_threads = o.decode_threads;
  options.progress = o.progress;
  const EvalResult r = engine.forward_pixels
                           ? fqvit::evaluate(engine.forward_pixels, images, engine.config.preprocess, options)
                           : fqvit::evaluate(engine.forward, images, engine.config.preprocess, options);
  EvaluationReport report;
  report.top1 = r.top1();
  report.top5 = r.top5();
  report.images = r.images;
  report.top1_correct = r.top1_correct;
  report.top5_correct = r.top5_correct;
  report.skipped = static_cast<int64_t>(r.skipped.size());
  report.images_per_second = r.images_per_second();
  report.engine = engine_name;
  if (r.images == 0 && info.slice.first != info.slice.end) {  // as fqvit-eval: say why instead of reporting 0%
    fail(o.data, "readable images", "none of " + std::to_string(images.size()) + " (" +
         std::to_string(r.skipped.size()) + " unreadable)", "at least one");
  }
  report.nonfinite_logits = r.nonfinite;
  // omp_get_max_threads, not core/parallel.h: that object carries the CLIs' start-up hook (wait_policy.cc), which
  // a shared library may not hold and which must never re-execute a host program.
  info.threads = omp_get_max_threads();
  info.model_fingerprint = model_fingerprint(o.model);
  report.json = eval_record(info, r).dump(2);
  return report;
}

}  // namespace fqvit
