#include "fqvit/core/parallel.h"

#include <omp.h>
#include <spdlog/spdlog.h>

namespace fqvit {

void set_num_threads(int threads) {
  omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
  // Naming the wait policy also links wait_policy.cc (and its start-up hook) into every tool that sets threads.
  spdlog::debug("{} OpenMP threads, wait policy {}", omp_get_max_threads(), thread_wait_policy());
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace fqvit
