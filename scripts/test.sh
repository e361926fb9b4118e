#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (apt), builds Release and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j 2 "$@"
