// Threading: OpenMP (the runtime oneDNN is built with here, so GEMMs and our loops share one pool).
#pragma once

#include <cstdint>

namespace fqvit {

// Sets the number of threads for everything that follows (0 = all cores).
void set_num_threads(int threads);
int num_threads();

}  // namespace fqvit
