// Threading: OpenMP (the runtime oneDNN is built with here, so GEMMs and our loops share one pool).
#pragma once

#include <cstdint>
#include <string>

namespace fqvit {

// Sets the number of threads for everything that follows (0 = all cores).
void set_num_threads(int threads);
int num_threads();

// The OpenMP wait policy in effect and where it came from, e.g. "OMP_WAIT_POLICY=passive (fqvit default)" or
// "GOMP_SPINCOUNT=10000 (environment)" (wait_policy.cc explains the default).
std::string thread_wait_policy();

}  // namespace fqvit
