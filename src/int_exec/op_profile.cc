// The per-op profile's table (op_profile.h): totals per kind, printed once at exit, largest first.
#include "fqvit/int_exec/op_profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace fqvit {
namespace {

struct Totals {
  std::mutex mutex;
  std::map<std::string, std::pair<int64_t, int64_t>> by_kind;  // kind -> (calls, ns)

  ~Totals() {
    if (by_kind.empty()) return;
    std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> rows(by_kind.begin(), by_kind.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
    int64_t total = 0;
    for (const auto& r : rows) total += r.second.second;
    std::fprintf(stderr, "FQVIT_PROFILE: integer executor, wall time per op kind\n");
    std::fprintf(stderr, "  %-24s %10s %12s %7s\n", "op", "calls", "total ms", "share");
    for (const auto& [kind, v] : rows) {
      const int64_t permille = total > 0 ? (v.second * 1000 + total / 2) / total : 0;
      std::fprintf(stderr, "  %-24s %10lld %8lld.%03lld %4lld.%01lld%%\n", kind.c_str(), static_cast<long long>(v.first),
                   static_cast<long long>(v.second / 1000000), static_cast<long long>(v.second / 1000 % 1000),
                   static_cast<long long>(permille / 10), static_cast<long long>(permille % 10));
    }
    std::fprintf(stderr, "  %-24s %10s %8lld.%03lld\n", "total", "", static_cast<long long>(total / 1000000),
                 static_cast<long long>(total / 1000 % 1000));
  }
};

Totals& totals() {
  static Totals t;
  return t;
}

}  // namespace

bool op_profile_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("FQVIT_PROFILE");
    return env != nullptr && *env != '\0' && std::string(env) != "0";
  }();
  return enabled;
}

int64_t op_profile_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void op_profile_add(const std::string& kind, int64_t nanoseconds) {
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto& entry = t.by_kind[kind];
  ++entry.first;
  entry.second += nanoseconds;
}

OpTimer::OpTimer(std::string kind) : kind_(std::move(kind)) {
  if (op_profile_enabled()) start_ = op_profile_now_ns();
}

OpTimer::~OpTimer() {
  if (op_profile_enabled()) op_profile_add(kind_, op_profile_now_ns() - start_);
}

}  // namespace fqvit
