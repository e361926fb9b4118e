#!/usr/bin/env bash
# Throughput on a shared machine (issue 11 item 7): fqvit-bench per OpenMP wait policy, without and with a
# competing job of our own (HOGS busy processes, `yes >/dev/null`), side by side, with the slowdown. The target: lose
# at most 3x against one competing 2-thread job (a fair share of 2 cores between two 2-thread jobs is 2x).
#
#   bench/wait_policy.sh [--build DIR] [--model DIR] [--int-model FILE] [--threads 2] [--batches "1 8"]
#                        [--seconds 3] [--hogs 2] [--policies "fqvit gomp passive spin1000 ..."]
#
# --int-model defaults to the quantized ViT-Tiny bench/peers.sh leaves in build/peers when the integer engine exists.
#
# Policies: fqvit = what the tools choose when the user set nothing (src/core/wait_policy.cc); gomp = GNU OpenMP's
# own default (GOMP_SPINCOUNT=300000); active = OMP_WAIT_POLICY=active; passive = OMP_WAIT_POLICY=passive;
# spinN = GOMP_SPINCOUNT=N. The competing processes are bounded (timeout) and killed on every exit path.
# Other users' load is not ours to stop: each line prints the 1-minute load average it was measured under.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="$root/build"
model="$root/../shared/models/vit_tiny_patch16_224"
int_model=""
threads=2
batches="1 8"
seconds=3
hogs=2
policies="fqvit gomp passive spin1000 spin10000"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --int-model) int_model="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --hogs) hogs="$2"; shift 2 ;;
    --policies) policies="$2"; shift 2 ;;
    *) echo "wait_policy.sh: unknown argument '$1' (see the header of $0)" >&2; exit 1 ;;
  esac
done
bench="$build/fqvit-bench"
[ -x "$bench" ] || { echo "wait_policy.sh: $bench not found: build it (ninja -C $build fqvit-bench)" >&2; exit 1; }
[ -d "$model" ] || { echo "wait_policy.sh: skipped: no checkpoint at $model (pass --model DIR)"; exit 0; }

tmp="$(mktemp -d)"
hog_pids=()
stop_hogs() {
  for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${hog_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  hog_pids=()
}
trap 'stop_hogs; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
start_hogs() {
  # Bounded even if this script is killed with SIGKILL: each hog ends by itself after 10 minutes.
  for _ in $(seq "$hogs"); do timeout 600 yes >/dev/null & hog_pids+=("$!"); done
  sleep 0.5  # let the scheduler see them before timing starts
}

policy_env() {
  case "$1" in
    fqvit) echo "" ;;
    gomp) echo "GOMP_SPINCOUNT=300000" ;;
    active) echo "OMP_WAIT_POLICY=active" ;;
    passive) echo "OMP_WAIT_POLICY=passive" ;;
    spin[0-9]*) echo "GOMP_SPINCOUNT=${1#spin}" ;;
    *) echo "wait_policy.sh: unknown policy '$1'" >&2; exit 1 ;;
  esac
}

# images/s and load of one run, as "ips load".
measure() {  # engine model policy batch
  local setting
  local -a setting_args=()
  setting="$(policy_env "$3")"
  [ -z "$setting" ] || setting_args=("$setting")
  # The parent's own setting must not leak into a policy under test.
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u FQVIT_WAIT_POLICY "${setting_args[@]}" \
    "$bench" --model "$2" --engine "$1" --batch "$4" --threads "$threads" --seconds "$seconds" \
    --json "$tmp/r.json" >/dev/null
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.1f %.1f %s" % (j["images_per_second"], max(j["load_average"]), j["thread_wait_policy"].replace(" ", "_")))' "$tmp/r.json"
}

engines=("fp32:$model")
# bench/peers.sh leaves a quantized ViT-Tiny in its scratch folder when the build has the integer engine.
peers_file="$build/peers/quantized/vit_tiny.w8a8attn4.safetensors"
if [ -z "$int_model" ] && [ -f "$peers_file" ]; then int_model="$peers_file"; fi
if [ -n "$int_model" ]; then
  if "$bench" --model "$int_model" --engine int --batch 1 --seconds 0 >/dev/null 2>&1; then
    engines+=("int:$int_model")
  else
    echo "note: int engine skipped ($("$bench" --model "$int_model" --engine int --seconds 0 2>&1 | tail -1))"
  fi
else
  echo "note: int engine skipped (no --int-model FILE given, and no $peers_file from bench/peers.sh)"
fi

echo "# $(basename "$model"), $threads threads, $seconds s per figure, competing job: $hogs x 'yes >/dev/null'"
echo "# $(nproc) cores; load average = 1-minute load during the run (other users' jobs included)"
printf "%-6s %-11s %5s %10s %6s %12s %6s %9s  %s\n" engine policy batch "idle img/s" load "loaded img/s" load slowdown setting
for entry in "${engines[@]}"; do
  engine="${entry%%:*}"
  path="${entry#*:}"
  for policy in $policies; do
    for batch in $batches; do
      read -r idle idle_load setting < <(measure "$engine" "$path" "$policy" "$batch")
      start_hogs
      read -r loaded loaded_load _ < <(measure "$engine" "$path" "$policy" "$batch")
      stop_hogs
      slowdown="$(python3 -c "import sys; a,b=map(float,sys.argv[1:]); print('%.2fx' % (a/b) if b > 0 else '-')" "$idle" "$loaded")"
      printf "%-6s %-11s %5s %10s %6s %12s %6s %9s  %s\n" "$engine" "$policy" "$batch" "$idle" "$idle_load" \
        "$loaded" "$loaded_load" "$slowdown" "$setting"
    done
  done
done
