#include "fqvit/core/thread_limit.h"

#include <omp.h>

namespace fqvit {

ThreadLimit::ThreadLimit(int limit) : previous_(omp_get_max_threads()) {
  if (limit >= 1 && limit < previous_) omp_set_num_threads(limit);
}

ThreadLimit::~ThreadLimit() { omp_set_num_threads(previous_); }

}  // namespace fqvit
