#include "fqvit/core/parallel.h"

#include <omp.h>

// OpenBLAS's thread control (cblas.h would pull in its whole C interface).
extern "C" void openblas_set_num_threads(int num_threads);

namespace fqvit {

void set_num_threads(int threads) {
  const int count = threads > 0 ? threads : omp_get_num_procs();
  omp_set_num_threads(count);
  openblas_set_num_threads(count);  // the torch numerics' GEMMs run on OpenBLAS's own threads
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace fqvit
