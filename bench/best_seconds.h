// The kernel benchmarks' timer: the fastest run of fn over repeated runs within `seconds` (at least 5), after one
// warm-up run. The minimum, not the median: on a shared machine it is the figure least disturbed by other processes
// (measured here: medians of the same kernel varied 3x under load, minima by a few percent).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>

namespace fqvit::bench {

inline double best_seconds(const std::function<void()>& fn, double seconds) {
  fn();
  double best = 1e30;
  int runs = 0;
  const auto start = std::chrono::steady_clock::now();
  while (runs < 5 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    ++runs;
  }
  return best;
}

}  // namespace fqvit::bench
