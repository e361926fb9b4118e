// Runs an IntPlan on uint8 center crops: integers only, deterministic. Every op splits its rows (or image x head
// pairs) across the threads and each row's arithmetic is fixed, so the scores do not depend on the thread count,
// the batch size or an image's position in the batch.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fqvit/int_exec/plan.h"

namespace fqvit {

class IntExecutor {
 public:
  explicit IntExecutor(std::shared_ptr<const IntPlan> plan) : plan_(std::move(plan)) {}

  // pixels: [batch][channels][S][S] uint8 (CHW per image); scores: [batch][classes] int32.
  void run(const uint8_t* pixels, int64_t batch, int32_t* scores) const;
  const IntPlan& plan() const { return *plan_; }

 private:
  std::shared_ptr<const IntPlan> plan_;
};

// One op on `batch` images: inputs are the op's input buffers (or the pixels for PatchEmbed), output its buffer
// (or the int32 scores for HeadOp). Used by run() and by the teacher-forced tests.
void run_op(const IntPlan& plan, const PlanOp& op, int64_t batch, const std::vector<const uint8_t*>& inputs,
            void* output);

}  // namespace fqvit
