#!/usr/bin/env bash
# Installs the Debian 12 packages fqvit builds and tests with; does nothing when they are all present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libeigen3-dev libcli11-dev nlohmann-json3-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg62-turbo-dev libpng-dev libdnnl-dev
  libopenblas-dev libsleef-dev  # the reference's own float kernels (PyTorch's BLAS and exp), for --numerics torch
  ocl-icd-opencl-dev  # only a Recommends of libdnnl-dev, but Debian's dnnl CMake config requires OpenCL
  python3 python3-numpy python3-pil python3-torch libopenblas0-pthread
  clang libclang-rt-14-dev  # libFuzzer and its sanitizer runtimes for scripts/fuzz.sh (only a Recommends of clang)
  parallel  # GNU parallel: the sharded-eval and sweep-jobs tests run through it (scripts/cluster/)
)

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
