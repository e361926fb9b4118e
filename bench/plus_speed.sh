#!/usr/bin/env bash
# fqvit_plus against the paper preset (FQ-ViT 8/8/4) in the integer engine, side by side in one run (issue 13's
# speed target: at most 10% fewer images/s): ViT-Tiny and DeiT-Tiny (../shared) at batch 1 and 8, 2 threads,
# through build/fqvit-bench. The two files of a model are timed alternately, round after round (the order flips
# every round), so a change in the machine's load hits both; each cell is the median over the rounds, and the
# 1-minute load average is printed per figure. Missing calibrated files are made first with build/fqvit-calibrate
# (1000 calibration images, fast numerics; about 25 s each on an idle machine) into --scratch (not the repo).
#
#   bench/plus_speed.sh [--build DIR] [--scratch DIR] [--shared DIR] [--rounds 3] [--seconds 3] [--batches "1 8"]
#                       [--threads 2] [--models "vit_tiny_patch16_224 deit_tiny_patch16_224"]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="$root/build"
scratch="${TMPDIR:-/tmp}/fqvit_plus_speed"
shared="$root/../shared"
rounds=3
seconds=3
batches="1 8"
threads=2
models="vit_tiny_patch16_224 deit_tiny_patch16_224"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    --shared) shared="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    *) echo "plus_speed.sh: unknown argument '$1'" >&2; exit 1 ;;
  esac
done
for tool in fqvit-bench fqvit-calibrate; do
  [ -x "$build/$tool" ] || { echo "plus_speed.sh: $build/$tool not found (build it first)" >&2; exit 1; }
done
mkdir -p "$scratch"
export OMP_WAIT_POLICY=passive
configs="fqvit_w8a8attn4 fqvit_plus"

for m in $models; do
  for cfg in $configs; do
    file="$scratch/$m.$cfg.safetensors"
    [ -f "$file" ] && continue
    [ -d "$shared/models/$m" ] || { echo "plus_speed.sh: $shared/models/$m not found" >&2; exit 1; }
    echo "calibrating $m with configs/$cfg.json -> $file" >&2
    "$build/fqvit-calibrate" --model "$shared/models/$m" --calib "$shared/imagenet/calib" --numerics fast \
      --threads "$threads" --config "$root/configs/$cfg.json" --out "$file.tmp.safetensors" > "$file.log" 2>&1
    mv "$file.tmp.safetensors" "$file"
  done
done

# images/s and load of one fqvit-bench run.
bench() {
  local json="$scratch/bench.json"
  "$build/fqvit-bench" --model "$1" --engine int --batch "$2" --threads "$threads" --seconds "$seconds" \
    --json "$json" > /dev/null 2>&1
  /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['images_per_second'], d['load_average'][0])" "$json"
}

results="$scratch/results.txt"
: > "$results"
echo "load at start: $(cut -d' ' -f1 /proc/loadavg)"
for ((r = 0; r < rounds; ++r)); do
  for m in $models; do
    for b in $batches; do
      order="$configs"
      [ $((r % 2)) -eq 1 ] && order="fqvit_plus fqvit_w8a8attn4"
      for cfg in $order; do
        read -r ips load < <(bench "$scratch/$m.$cfg.safetensors" "$b")
        printf '%s %s %s %s %s\n' "$m" "$b" "$cfg" "$ips" "$load" >> "$results"
        printf 'round %d  %-24s batch %-2s %-16s %8.1f images/s  (load %s)\n' "$r" "$m" "$b" "$cfg" "$ips" "$load"
      done
    done
  done
done
echo "load at end: $(cut -d' ' -f1 /proc/loadavg)"
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
cells = {}
for m, b, cfg, ips, load in rows:
    cells.setdefault((m, int(b)), {}).setdefault(cfg, []).append((float(ips), float(load)))
print("\n| model | batch | paper 8/8/4 images/s | fqvit_plus images/s | plus / paper | load (1-min avg) |")
print("|---|---|---|---|---|---|")
for (m, b), c in sorted(cells.items()):
    paper = statistics.median(v for v, _ in c["fqvit_w8a8attn4"])
    plus = statistics.median(v for v, _ in c["fqvit_plus"])
    loads = [l for v in c.values() for _, l in v]
    print(f"| {m} | {b} | {paper:.1f} | {plus:.1f} | {plus / paper:.3f} | {min(loads):.1f}-{max(loads):.1f} |")
PY
