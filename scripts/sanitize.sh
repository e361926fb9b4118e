#!/usr/bin/env bash
# The test suite once under AddressSanitizer + UndefinedBehaviorSanitizer: a Debug build (-O1 to keep it quick) in
# build-asan/, run as on a machine without ../shared (FQVIT_SHARED_DIR points nowhere, so those tests skip), without
# the PyTorch scripts (not instrumented) and the ModelParity suites that need their goldens. Any report fails.
# -g1 (line tables only) and no benchmarks keep the build inside the CI budget: full -g took 8m41 of a 24 min run.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O1" -DFQVIT_SANITIZE=ON \
  -DFQVIT_BUILD_BENCH=OFF \
  >/dev/null
cmake --build build-asan -j "$(nproc)"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export FQVIT_SHARED_DIR=/nonexistent/fqvit-shared
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build-asan --output-on-failure -j 2 -E '^(make_model_goldens|check_.*_reference)$|ModelParity' "$@"
