#!/usr/bin/env bash
# Runs the whole test suite in a release build (the kernels and end-to-end model tests
# need optimized code). Tests that need ../shared (real model and images) skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift test -c release "$@"
