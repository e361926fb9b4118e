#!/usr/bin/env bash
# A sweep spread over one machine's cores with GNU parallel: one job per run (fqvit-sweep --emit-jobs), each
# writing its own JSONL, then the table and the plot of all of them.
#
#   scripts/cluster/sweep_parallel.sh CONFIG OUT_DIR JOBS [fqvit-sweep flags...]
#   scripts/cluster/sweep_parallel.sh configs/sweeps/paper.json results/paper 2 \
#       --model models/deit_tiny --calib imagenet/calib --data imagenet/val --class-list imagenet/classes.txt
#
# Each job gets cores / JOBS compute threads. Rerunning skips finished runs (each job's JSONL is resumable).
set -euo pipefail
config="$1" out="$2" jobs="$3"
shift 3
build="${FQVIT_BUILD:-$(dirname "$0")/../../build}"
threads=$(( $(nproc) / jobs ))
(( threads >= 1 )) || threads=1
mkdir -p "$out"
"$build/fqvit-sweep" --config "$config" --out "$out/results.jsonl" --work-dir "$out/models" --threads "$threads" \
  --emit-jobs "$out/jobs.txt" "$@"
# Passive OpenMP waiting: jobs that share cores must not spin against each other.
OMP_WAIT_POLICY=passive parallel --jobs "$jobs" --joblog "$out/parallel.log" --resume-failed < "$out/jobs.txt" || true
"$build/fqvit-report" "$out"/results.jsonl.parts/*.jsonl --markdown "$out/table.md" --svg "$out/top1_vs_bits.svg"
