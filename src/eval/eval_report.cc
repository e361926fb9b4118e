#include "fqvit/eval/eval_report.h"

namespace fqvit {

nlohmann::json eval_report_json(const EvalResult& r, const EvalRunInfo& run) {
  return {
      {"top1", r.top1()},
      {"top5", r.top5()},
      {"images", r.images},
      {"top1_correct", r.top1_correct},
      {"top5_correct", r.top5_correct},
      {"images_per_second", r.images_per_second()},
      {"model_images_per_second", r.model_seconds > 0 ? static_cast<double>(r.images) / r.model_seconds : 0.0},
      {"skipped", r.skipped.size()},
      {"nonfinite_logits", r.nonfinite},
      {"engine", run.engine},
      {"numerics", run.numerics},
      {"model", run.model},
      {"data", run.data},
      {"batch_size", run.batch_size},
      {"threads", run.threads},
  };
}

}  // namespace fqvit
