// A cap on the OpenMP threads of one scope (a forward pass): OpenMP's thread count is a per-thread setting (the
// nthreads-var ICV of the calling thread), so the cap holds for the regions the calling thread starts while it lives,
// and the previous count comes back after.
#pragma once

namespace fqvit {

class ThreadLimit {
 public:
  // At most `limit` threads; 0, or a limit at or above the current count, changes nothing.
  explicit ThreadLimit(int limit);
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  int previous_;
};

}  // namespace fqvit
