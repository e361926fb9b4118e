// TDPBUSD peak: 4 C tiles fed by 2 A and 2 B tiles already loaded, each instruction 16 x 16 x 64 multiply-adds =
// 32768 ops. Compiled with -mamx-tile -mamx-int8 (bench/CMakeLists.txt).
#include "kernels/x86/immintrin_quiet.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "isa_peak.h"
#include "kernels/cpu_features.h"

namespace fqvit::bench {

double amx_peak_ops_per_second() {
  if (!kernels::cpu_has_amx_int8() || !kernels::amx_permitted_in_this_thread()) return 0;
  struct alignas(64) {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
  } config;
  for (int t = 0; t < 8; ++t) config.colsb[t] = 64, config.rows[t] = 16;
  alignas(64) static uint8_t operand[16 * 64];
  std::memset(operand, 1, sizeof operand);
  _tile_loadconfig(&config);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, operand, 64);
  _tile_loadd(5, operand, 64);
  _tile_loadd(6, operand, 64);
  _tile_loadd(7, operand, 64);
  constexpr int64_t kIterations = 20'000;  // the best of many short runs dodges preemption
  double best = 1e30;
  for (int run = 0; run < 200; ++run) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t it = 0; it < kIterations; ++it) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  alignas(64) static int32_t sink[16 * 16];
  _tile_stored(0, sink, 64);
  best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  _tile_release();
  return static_cast<double>(kIterations) * 4 * 32768 / best;
}

}  // namespace fqvit::bench
