#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (apt), builds Release and runs the whole test suite; then the portable build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# ctest runs two test processes at once on two cores: OpenMP threads that spin while waiting would steal each
# other's cores (measured: 15x slower), so they sleep instead.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
ctest --test-dir build --output-on-failure -j 2 "$@"

# The portable configuration (-DFQVIT_NATIVE=OFF: x86-64-v3, per-file flags for the AVX-512 / AMX kernels) in a
# second build tree, with the test folders whose code -march changes: numerics, kernels, quant, model. The rest
# (io, calibrate, eval, tools) runs the same code paths on top of them. FQVIT_SKIP_PORTABLE=1 leaves this out.
if [[ "${FQVIT_SKIP_PORTABLE:-0}" != 1 ]]; then
  portable_suites=(numerics kernels quant model)
  cmake -S . -B build-portable -G Ninja -DCMAKE_BUILD_TYPE=Release -DFQVIT_NATIVE=OFF >/dev/null
  targets=()
  for suite in "${portable_suites[@]}"; do targets+=("fqvit_${suite}_tests"); done
  cmake --build build-portable -j "$(nproc)" --target "${targets[@]}" | tail -n 1
  ctest --test-dir build-portable --output-on-failure -j 2 -L "^($(IFS='|'; echo "${portable_suites[*]}"))\$"
fi
