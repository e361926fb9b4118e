// ThreadLimit: caps the calling thread's OpenMP thread count for its scope, never raises it, and restores it.
#include <gtest/gtest.h>
#include <omp.h>

#include "fqvit/core/thread_limit.h"

namespace fqvit {
namespace {

int threads_in_a_region() {
  int n = 0;
#pragma omp parallel
  {
#pragma omp single
    n = omp_get_num_threads();
  }
  return n;
}

TEST(ThreadLimit, CapsRegionsInItsScopeAndRestores) {
  omp_set_num_threads(4);  // more than the test machine's cores is fine: OpenMP starts them anyway
  {
    const ThreadLimit limit(1);
    EXPECT_EQ(omp_get_max_threads(), 1);
    EXPECT_EQ(threads_in_a_region(), 1);
  }
  EXPECT_EQ(omp_get_max_threads(), 4);
  {
    const ThreadLimit none(0), above(8);  // no limit, and a limit above the count: unchanged
    EXPECT_EQ(omp_get_max_threads(), 4);
  }
  EXPECT_EQ(omp_get_max_threads(), 4);
}

}  // namespace
}  // namespace fqvit
