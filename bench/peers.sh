#!/usr/bin/env bash
# fqvit against its peers, in one run (issue 11 items 1, 2 and 8): images/s of ViT-Tiny (../shared), a DeiT-S-shaped
# and a Swin-T-shaped random model at batch 1 and 8 on 2 threads, for
#   fqvit FP32 and (when the build has it) the integer engine, through build/fqvit-bench;
#   PyTorch FP32 and torch.ao.quantization.quantize_dynamic int8 (Debian python3-torch), its best over the
#     settings in --torch-settings (OpenBLAS kernel set, torch / OpenBLAS threads, OpenMP wait policy), a fresh
#     process per setting and a freshly quantized model per figure;
#   ONNX Runtime (npm onnxruntime-node) FP32 on torch.onnx.export of the reference model and dynamic int8
#     (MatMulInteger) built by editing that graph with python3-onnx, its best over spinning on / off; its int8 top-1
#     is checked against its FP32 on real images (ViT-Tiny, --check-images of ../shared/imagenet/val);
# with the ratios ours / peer, and the memory figures (file, resident weights, peak RSS of fqvit-eval at batch 8).
# A peer that is not installed is skipped with a note: bench/install_peers.sh installs them (not part of CI).
#
#   bench/peers.sh [--build DIR] [--scratch DIR] [--threads 2] [--batches "1 8"] [--seconds 3] [--check-images 300]
#                  [--models "vit_tiny deit_s swin_t"] [--torch-settings "..."] [--quick] [--no-torch] [--no-ort]
#   --quick: every model, peer and batch in about 10 minutes (shorter timings, fewer peer settings: see below).
#
# Settings of the torch peer are CORETYPE:TORCH_THREADS:OPENBLAS_THREADS:WAIT, CORETYPE one of SkylakeX, Haswell...
# (OPENBLAS_CORETYPE for that process only), "env" (the environment's own), or "none" (unset, with
# OPENBLAS_L2_SIZE: Debian's OpenBLAS 0.3.21 then picks its generic kernels on this CPU); WAIT passive or spin
# (GNU OpenMP's default). Figures on a shared machine move with other users' load: the 1-minute load average is
# printed at the start and the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="$root/build"
scratch=""
threads=2
batches="1 8"
seconds=""
check_images=""
models="vit_tiny deit_s swin_t"
torch_settings=""
ort_spinning="0 1"
quick=0
use_torch=1
use_ort=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --check-images) check_images="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --torch-settings) torch_settings="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-torch) use_torch=0; shift ;;
    --no-ort) use_ort=0; shift ;;
    *) echo "peers.sh: unknown argument '$1' (see the header of $0)" >&2; exit 1 ;;
  esac
done
# --quick (the lead's end-of-session run on an idle machine, about 10 minutes): every model, peer and batch, but
# 1-second timings, the two settings that were PyTorch's best here (OpenBLAS SkylakeX, torch 1 / OpenBLAS 2 and
# torch 2 / OpenBLAS 1), ONNX Runtime without spinning (its faster setting here), 100 check images. Options given
# explicitly win over these.
if [ "$quick" = 1 ]; then
  seconds="${seconds:-1}"
  check_images="${check_images:-100}"
  torch_settings="${torch_settings:-SkylakeX:1:2:passive SkylakeX:2:1:passive}"
  ort_spinning="0"
fi
seconds="${seconds:-3}"
check_images="${check_images:-300}"
torch_settings="${torch_settings:-SkylakeX:1:2:passive SkylakeX:2:1:passive SkylakeX:2:2:passive env:2:1:passive SkylakeX:2:1:spin}"
scratch="${scratch:-$build/peers}"
shared="${FQVIT_SHARED_DIR:-$root/../shared}"
py=/usr/bin/python3  # Debian's, which has python3-torch and python3-onnx
bench="$build/fqvit-bench"
[ -x "$bench" ] || { echo "peers.sh: $bench not found: build it (ninja -C $build fqvit-bench fqvit-eval fqvit-calibrate)" >&2; exit 1; }
mkdir -p "$scratch"
results="$scratch/results.jsonl"
: > "$results"
summary() { "$py" "$here/peers/summary.py" "$@"; }
note() {
  echo "note: $*"
  "$py" -c 'import json,sys; print(json.dumps({"kind": "note", "text": sys.argv[1]}))' "$*" |
    summary record --results "$results" --name - --source -
}
have_torch() { "$py" -c "import torch" 2>/dev/null; }

echo "peers.sh: $(date -u +%FT%TZ), $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  (figures on a shared machine are provisional; another user's job slows every column)"
[ "$quick" = 1 ] && echo "  --quick: ${seconds} s per figure, PyTorch settings: $torch_settings; ONNX Runtime spinning off"

# --- models ------------------------------------------------------------------------------------------------------
declare -A model_dir
for name in $models; do
  case "$name" in
    vit_tiny)
      if [ -d "$shared/models/vit_tiny_patch16_224" ]; then model_dir[$name]="$shared/models/vit_tiny_patch16_224"
      else note "vit_tiny skipped: no $shared/models/vit_tiny_patch16_224"; fi ;;
    deit_s|swin_t)
      case_name="$([ "$name" = deit_s ] && echo deit_small_random || echo swin_tiny_random)"
      # The same seeded checkpoints as the ctest fixture (scripts/make_model_goldens.py), reused when up to date.
      if have_torch && "$py" "$root/scripts/make_model_goldens.py" --out "$build/goldens" --which "$case_name" >/dev/null; then
        model_dir[$name]="$build/goldens/$case_name"
      else
        note "$name skipped: the random checkpoint needs python3-torch (scripts/make_model_goldens.py)"
      fi ;;
    *) echo "peers.sh: unknown model '$name' (expected vit_tiny, deit_s, swin_t)" >&2; exit 1 ;;
  esac
done
names=()
for name in $models; do [ -n "${model_dir[$name]:-}" ] && names+=("$name"); done
[ ${#names[@]} -gt 0 ] || { echo "peers.sh: no model to measure"; exit 0; }

# --- fqvit ---------------------------------------------------------------------------------------------------------
# The integer engine is used as soon as the build's engine list has it (fqvit-bench refuses unknown engines).
has_int=0
probe="$("$bench" --model /nonexistent --engine int 2>&1 || true)"
if [[ "$probe" == *"--engine: found int"* ]]; then
  note "fqvit int engine skipped: not in this build's engine list ($("$bench" --help | grep -o 'engine to time: .*' | head -1))"
else
  has_int=1
fi
calib="$shared/imagenet/calib"
class_list="$shared/imagenet/classes.txt"
if [ ! -d "$calib" ]; then calib="$root/demo/data/calib"; class_list="$root/demo/data/classes.txt"; fi
declare -A int_file
if [ "$has_int" = 1 ]; then
  for name in "${names[@]}"; do
    # Speed does not depend on calibration quality: a short calibration (64 images) is enough to time the engine.
    file="$scratch/quantized/$name.w8a8attn4.safetensors"
    if [ ! -f "$file" ] || [ "$file" -ot "${model_dir[$name]}/model.safetensors" ]; then
      mkdir -p "$scratch/quantized"
      "$build/fqvit-calibrate" --model "${model_dir[$name]}" --calib "$calib" --class-list "$class_list" \
        --images 64 --batch 32 --threads "$threads" --out "$file" >/dev/null 2>&1 ||
        { note "$name int skipped: fqvit-calibrate failed"; continue; }
    fi
    int_file[$name]="$file"
  done
fi
measure_fqvit() {  # name
  local name="$1" batch
  for batch in $batches; do
    "$bench" --model "${model_dir[$name]}" --engine fp32 --batch "$batch" --threads "$threads" --seconds "$seconds" \
      --json "$scratch/bench.json" >/dev/null
    summary record --results "$results" --name "$name" --source fqvit < "$scratch/bench.json"
    if [ -n "${int_file[$name]:-}" ]; then
      # The integer engine may not cover every family yet: its refusal becomes a note, not the end of the run.
      if "$bench" --model "${int_file[$name]}" --engine int --batch "$batch" --threads "$threads" \
           --seconds "$seconds" --json "$scratch/bench.json" >"$scratch/int.log" 2>&1; then
        summary record --results "$results" --name "$name" --source fqvit < "$scratch/bench.json"
      else
        note "$name int skipped: $(tail -1 "$scratch/int.log")"
        unset "int_file[$name]"
      fi
    fi
  done
}

# --- memory (issue 11 item 8) ----------------------------------------------------------------------------------------
# File bytes and resident-after-load bytes from fqvit-bench (batch 1, short), peak RSS of fqvit-eval at batch 8 on
# real images (GNU time's maximum resident set size).
val="$shared/imagenet/val"; val_classes="$shared/imagenet/classes.txt"
if [ ! -d "$val" ]; then val="$root/demo/data/val"; val_classes="$root/demo/data/classes.txt"; fi
measure_memory() {  # name
  local name="$1" mode path peak_kb
  for mode in fp32 int; do
    if [ "$mode" = fp32 ]; then path="${model_dir[$name]}"; else path="${int_file[$name]:-}"; fi
    [ -n "$path" ] || continue
    "$bench" --model "$path" --engine "$mode" --batch 1 --threads "$threads" --seconds 0 --json "$scratch/mem.json" \
      >/dev/null 2>&1 || continue
    peak_kb=0
    if [ -x /usr/bin/time ]; then
      peak_kb="$(/usr/bin/time -f '%M' "$build/fqvit-eval" --model "$path" --engine "$mode" --data "$val" \
        --class-list "$val_classes" --batch-size 8 --limit 64 --threads "$threads" 2>&1 >/dev/null | tail -1)"
    fi
    "$py" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(json.dumps({"kind": "memory",
      "file_bytes": j["model_file_bytes"], "resident_bytes": j["model_resident_bytes"],
      "peak_rss_bytes": int(sys.argv[2]) * 1024}))' "$scratch/mem.json" "$peak_kb" |
      summary record --results "$results" --name "$name" --source fqvit --mode "$mode"
  done
}

# --- PyTorch -------------------------------------------------------------------------------------------------------
measure_torch() {  # name
  local name="$1" setting coretype torch_threads blas_threads wait env_args
  for setting in $torch_settings; do
    IFS=: read -r coretype torch_threads blas_threads wait <<< "$setting"
    env_args=(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u FQVIT_WAIT_POLICY "OPENBLAS_NUM_THREADS=$blas_threads")
    case "$coretype" in
      env) ;;
      none) env_args+=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE) ;;
      *) env_args+=("OPENBLAS_CORETYPE=$coretype") ;;
    esac
    [ "$wait" = passive ] && env_args+=(OMP_WAIT_POLICY=passive)
    # shellcheck disable=SC2086
    "${env_args[@]}" "$py" "$here/peers/torch_peer.py" --model "${model_dir[$name]}" --batch $batches \
      --threads "$torch_threads" --seconds "$seconds" 2>/dev/null |
      sed "s/\"setting\": \"/\"setting\": \"OpenMP wait $wait, /" |
      summary record --results "$results" --name "$name" --source torch
  done
}

# --- ONNX Runtime --------------------------------------------------------------------------------------------------
ort_modules="$scratch/ort/node_modules"
ort_ready=0
if [ "$use_ort" = 1 ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    note "ONNX Runtime peer skipped: node / npm not installed (bench/install_peers.sh)"
  elif ! have_torch || ! "$py" -c "import onnx" 2>/dev/null; then
    note "ONNX Runtime peer skipped: the graphs need python3-torch and python3-onnx (bench/install_peers.sh)"
  else
    # npm ci from the committed lockfile into the scratch folder (never into the source tree); the package's
    # post-install would fetch a CUDA add-on, which ONNXRUNTIME_NODE_INSTALL=skip turns off.
    if [ ! -d "$ort_modules/onnxruntime-node" ] || [ "$ort_modules/.package-lock.json" -ot "$here/ort/package-lock.json" ]; then
      mkdir -p "$scratch/ort"
      cp "$here/ort/package.json" "$here/ort/package-lock.json" "$scratch/ort/"
      (cd "$scratch/ort" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
    ort_ready=1
  fi
fi
measure_ort() {  # name
  local name="$1" graphs size mode spinning
  graphs="$scratch/onnx/$name"
  if [ ! -f "$graphs/int8.onnx" ] || [ "$graphs/int8.onnx" -ot "${model_dir[$name]}/model.safetensors" ]; then
    "$py" "$here/peers/onnx_models.py" --model "${model_dir[$name]}" --out "$graphs" >/dev/null 2>"$scratch/onnx_export.log" ||
      { note "$name ONNX Runtime skipped: torch.onnx.export failed ($(tail -1 "$scratch/onnx_export.log"))"; return; }
  fi
  size="$("$py" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c.get("model_args", {}).get("img_size") or c.get("pretrained_cfg", {}).get("input_size", [3, 224, 224])[1])' "${model_dir[$name]}/config.json")"
  for mode in fp32 int8; do
    for spinning in $ort_spinning; do
      # shellcheck disable=SC2086
      NODE_PATH="$ort_modules" node "$here/peers/ort_peer.js" bench --graph "$graphs/$mode.onnx" --mode "$mode" \
        --batch $batches --threads "$threads" --seconds "$seconds" --spinning "$spinning" --img-size "$size" |
        summary record --results "$results" --name "$name" --source onnxruntime
    done
  done
  if [ "$name" = vit_tiny ] && [ -f "$shared/imagenet/val_labels.txt" ] && [ "$check_images" -gt 0 ]; then
    "$py" "$here/peers/imagenet_inputs.py" --model "${model_dir[$name]}" --data "$shared/imagenet/val" \
      --labels "$shared/imagenet/val_labels.txt" --count "$check_images" --out "$scratch/check_inputs.f32" \
      --labels-out "$scratch/check_labels.json" >/dev/null
    NODE_PATH="$ort_modules" node "$here/peers/ort_peer.js" check --graph "$graphs/fp32.onnx" \
      --against "$graphs/int8.onnx" --images "$scratch/check_inputs.f32" --labels "$scratch/check_labels.json" \
      --threads "$threads" --spinning 0 --img-size "$size" |
      summary record --results "$results" --name "$name" --source onnxruntime
  fi
}

if [ "$use_torch" = 1 ] && ! have_torch; then
  use_torch=0
  note "PyTorch peer skipped: python3-torch not installed (bench/install_peers.sh)"
fi

# Model by model, every engine and peer back to back, so a change in other users' load between models does not
# skew one column against another.
for name in "${names[@]}"; do
  echo "measuring $name (load $(cut -d' ' -f1 /proc/loadavg))"
  measure_fqvit "$name"
  measure_memory "$name"
  if [ "$use_torch" = 1 ]; then measure_torch "$name"; fi
  if [ "$ort_ready" = 1 ]; then measure_ort "$name"; fi
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
summary print --results "$results"
