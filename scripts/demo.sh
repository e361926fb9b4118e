#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (apt), builds Release and runs the main job on the embedded demo models (the
# micro ViT and micro Swin trained on Fashion-MNIST, demo/README.md): FP32 evaluation, FQ-ViT calibration
# (MinMax + PTF + LIS, 8/8/4) into a quantized model file, and its evaluation with the integer-only executor (the
# default engine for a quantized file) beside fake quantization, for both models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
out=build/demo
mkdir -p "$out"
data=(--data demo/data/val --class-list demo/data/classes.txt --batch-size 100)
for model in demo/models/*/; do
  name=$(basename "$model")
  echo "== $name: FP32"
  ./build/fqvit-eval --model "$model" "${data[@]}" --json "$out/$name.fp32.json"
  echo "== $name: calibrate FQ-ViT 8/8/4 (MinMax + PTF + LIS) on demo/data/calib"
  ./build/fqvit-calibrate --model "$model" --calib demo/data/calib --class-list demo/data/classes.txt \
      --images 100 --batch-size 50 --out "$out/$name.w8a8attn4.safetensors"
  echo "== $name: integer-only 8/8/4"
  ./build/fqvit-eval --model "$out/$name.w8a8attn4.safetensors" "${data[@]}" --json "$out/$name.w8a8attn4.int.json"
  echo "== $name: fake-quant 8/8/4"
  ./build/fqvit-eval --model "$out/$name.w8a8attn4.safetensors" --engine fake "${data[@]}" \
      --json "$out/$name.w8a8attn4.json"
done
