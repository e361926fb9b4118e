#!/usr/bin/env bash
# Regenerates the fqvit_plus evidence table (docs/quantization.md 11.8): configs/sweeps/plus.json through fqvit-sweep
# on ViT-Tiny and DeiT-Tiny (when ../shared is present) and the two demo models, rendered by fqvit-report with
# images/s. Two passes, each setting-major (every model's row before the next row): FP32 and the integer engine
# first, then fake quant (its float emulation, slower); one fqvit-sweep --only call per run, so an interrupted sweep
# has whole rows and a rerun skips what is finished. Calibrated files are kept in WORK/models and reused by the
# fake and int runs of a setting.
#
#   bash scripts/plus_table.sh [WORK]     (default /tmp/fqvit_plus_sweep; BUILD=build SHARED=../shared)
#
# Nothing here reads accuracy back: the settings are fixed in the config and every parameter is fitted by the
# calibration on the calibration images.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/fqvit_plus_sweep}
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
CONFIG=configs/sweeps/plus.json
mkdir -p "$WORK"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

groups=()
if [[ -d $SHARED/models/vit_tiny_patch16_224 && -d $SHARED/imagenet/val ]]; then
  groups+=("--model $SHARED/models/vit_tiny_patch16_224 --model $SHARED/models/deit_tiny_patch16_224
    --calib $SHARED/imagenet/calib --data $SHARED/imagenet/val --class-list $SHARED/imagenet/classes.txt
    --labels $SHARED/imagenet/val_labels.txt")
else
  echo "plus_table: $SHARED not found: demo models only" >&2
fi
demo="--calib demo/data/calib --data demo/data/val --class-list demo/data/classes.txt"
groups+=("--model demo/models/vit_micro $demo")
groups+=("--model demo/models/swin_micro $demo")

# Every run as "pass setting-index group-index key" (pass 1: fake quant), setting index = first appearance of its
# label in the listing.
runs=$(for g in "${!groups[@]}"; do
  # shellcheck disable=SC2086
  "$BUILD/fqvit-sweep" --config "$CONFIG" ${groups[$g]} --list | awk -v g="$g" '{
    label = ""; for (i = 4; i <= NF; ++i) label = label " " $i
    if (!(label in order)) order[label] = n++
    print ($3 == "fake" ? 1 : 0), order[label], g, $1 }'
done | sort -n -k1,1 -k2,2 -k3,3 -s)

total=$(wc -l <<<"$runs")
i=0
while read -r _ _ g key; do
  i=$((i + 1))
  echo "plus_table: run $i of $total ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))" >&2
  # shellcheck disable=SC2086
  "$BUILD/fqvit-sweep" --config "$CONFIG" ${groups[$g]} --threads 2 --out "$WORK/results.jsonl" \
    --work-dir "$WORK/models" --only "$key" >&2 || echo "plus_table: run $key failed (recorded)" >&2
done <<<"$runs"

"$BUILD/fqvit-report" "$WORK/results.jsonl" --speed --markdown "$WORK/table.md"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (images/s measured under it)"
