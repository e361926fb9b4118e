#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (apt), builds Release and runs the main job on the embedded demo models:
# FP32 evaluation of the micro ViT and micro Swin trained on Fashion-MNIST (demo/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
for model in demo/models/*/; do
  name=$(basename "$model")
  echo "== $name: FP32"
  ./build/fqvit-eval --model "$model" --data demo/data/val --class-list demo/data/classes.txt --batch-size 50
done
