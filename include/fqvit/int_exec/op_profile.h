// Where the integer executor's time goes, op kind by op kind: FQVIT_PROFILE=1 in the environment turns it on, and
// at exit a table (kind, calls, total ms, share of the total) goes to stderr. Wall time of each op on the calling
// thread, in integer nanoseconds (the executor is float-free). Every op runs the code it runs unprofiled: attention
// is one fused kernel (q k^T, softmax and attn x V per block of query rows), so it is timed as one op
// ("attention"; fqvit-bench-int-ops splits it into its stages on one core), and so is fc1 with GELU in its GEMM
// epilogue ("gemm.fc1+gelu"). A run of row-local ops executes block by block in one parallel loop (executor.cc):
// its wall time is split between its ops in the ratio of the threads' time in each.
#pragma once

#include <cstdint>
#include <string>

namespace fqvit {

bool op_profile_enabled();  // FQVIT_PROFILE set and not "0", read once
int64_t op_profile_now_ns();
void op_profile_add(const std::string& kind, int64_t nanoseconds);

// Adds the time from construction to destruction under `kind` (nothing when profiling is off).
class OpTimer {
 public:
  explicit OpTimer(std::string kind);
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  std::string kind_;
  int64_t start_ = 0;
};

}  // namespace fqvit
