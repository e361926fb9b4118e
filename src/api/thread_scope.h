// The compute threads of one API call: OpenMP's thread count is a per-thread setting (the nthreads-var ICV of the
// calling thread), so each caller sets its own for the call and puts the previous value back after it.
#pragma once

#include <omp.h>

namespace fqvit::api {

class ThreadScope {
 public:
  // threads: 0 = all cores, n > 0 = n.
  explicit ThreadScope(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
  }
  ~ThreadScope() { omp_set_num_threads(previous_); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_;
};

}  // namespace fqvit::api
