// Where the integer executor's time goes, op kind by op kind: FQVIT_PROFILE=1 in the environment turns it on, and
// at exit a table (kind, calls, total ms, share of the total) goes to stderr. Wall time of each op on the calling
// thread, in integer nanoseconds (the executor is float-free). While profiling, the attention op runs its three
// stages (q k^T, softmax, attn x V) and the fc1 op its GEMM and GELU as separate passes, so each is timed on its
// own; the bits are the same either way.
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
