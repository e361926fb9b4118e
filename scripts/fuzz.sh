#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/) and runs each over its committed seed corpus for a
# fixed number of inputs from a fixed seed: deterministic, bounded (under a minute per target on 2 cores), and any
# crash, sanitizer report or leak fails the run. New corpus entries go to a scratch folder, never into fuzz/corpus.
#   scripts/fuzz.sh [runs per target]     (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10000}"
targets=(safetensors_header model_config label_files quantized_file)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DFQVIT_BUILD_FUZZ=ON \
  -DFQVIT_BUILD_TESTS=OFF -DFQVIT_BUILD_BENCH=OFF >/dev/null
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# clang warns about the GCC-only pragmas; the GCC build is the one held to no warnings.
ninja -C build-fuzz $(printf 'fqvit_%s_fuzz ' "${targets[@]}") >"$scratch/build.log" 2>&1 ||
  { tail -40 "$scratch/build.log"; exit 1; }
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  start=$SECONDS
  # -max_len: the quantized seed is 16 KB; mutations may grow it a little.
  TMPDIR="$scratch" OMP_NUM_THREADS=1 "build-fuzz/fuzz/fqvit_${t}_fuzz" -runs="$runs" -seed=1 -max_len=20000 \
    "$scratch/$t" "fuzz/corpus/$t" 2>"$scratch/$t.log" ||
    { tail -40 "$scratch/$t.log"; echo "fuzz: $t FAILED"; exit 1; }
  echo "fuzz: $t: $runs inputs, no crash ($((SECONDS - start)) s)"
done
