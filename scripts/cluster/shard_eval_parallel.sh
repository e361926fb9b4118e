#!/usr/bin/env bash
# One long evaluation split into N shards run at once with GNU parallel, then added up exactly into the record an
# unsharded `fqvit-eval --json` writes (per-image predictions included).
#
#   scripts/cluster/shard_eval_parallel.sh N OUT.json fqvit-eval-flags...
#   scripts/cluster/shard_eval_parallel.sh 2 deit_tiny_val.json --model deit.w8a8attn4.safetensors --engine fake \
#       --data imagenet/val --class-list imagenet/classes.txt
set -euo pipefail
shards="$1" out="$2"
shift 2
build="${FQVIT_BUILD:-$(dirname "$0")/../../build}"
threads=$(( $(nproc) / shards ))
(( threads >= 1 )) || threads=1
parts="$out.shards"
mkdir -p "$parts"
seq 0 $(( shards - 1 )) | OMP_WAIT_POLICY=passive parallel --jobs "$shards" --halt now,fail=1 \
  "$build/fqvit-eval" "$@" --threads "$threads" --shard "{}/$shards" --json "$parts/{}.json"
"$build/fqvit-report" --merge "$parts"/*.json --json "$out"
