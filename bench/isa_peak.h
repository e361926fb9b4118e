// Measured int8 peaks of one core: a tight loop of independent VNNI (vpdpbusd) or AMX (TDPBUSD) instructions with
// operands in registers / tiles, no memory traffic. The roofline the GEMM figures are compared with.
#pragma once

namespace fqvit::bench {

// Integer ops per second (2 per multiply-add) of one core; 0 when the CPU (or OS, for AMX) lacks the ISA.
double vnni_peak_ops_per_second();
double amx_peak_ops_per_second();

}  // namespace fqvit::bench
