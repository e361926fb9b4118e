#!/usr/bin/env bash
# Installs what bench/peers.sh measures fqvit against (not part of CI): Debian's PyTorch with the pthread OpenBLAS
# it runs best on, python3-onnx to build the ONNX Runtime graphs, GNU time for peak RSS, Node.js and npm for
# onnxruntime-node. onnxruntime-node itself is installed by bench/peers.sh with `npm ci` from bench/ort's lockfile
# into its scratch folder (build/peers), never into the source tree. Does nothing when everything is present.
set -euo pipefail
packages=(python3 python3-numpy python3-pil python3-torch libopenblas0-pthread python3-onnx time)
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
