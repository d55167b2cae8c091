#!/usr/bin/env bash
# Checks that the FP32 AVX2 depthwise kernel gives the same bits as the one of commit REV
# (default 138dbb5, the per-pixel kernel before the blocked one). Needs clang (or cc) and an AVX2 CPU.
# usage: scripts/kernels/fp32_depthwise_bits.sh [REV]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
k="$here/../../Sources/CKernels"
out="${TMPDIR:-/tmp}/octet-kernels"
mkdir -p "$out"
cc="${CC:-clang}"
rev="${1:-138dbb5}"
git -C "$here" show "$rev:Sources/CKernels/src/dwconv2d_f32_avx2.c" > "$out/dwconv2d_f32_avx2_old.c"
"$cc" -O2 -I"$k/include" -I"$k/src" -Dck_dwconv2d_f32_nhwc__avx2=old_dw -c "$out/dwconv2d_f32_avx2_old.c" -o "$out/dw_old.o"
"$cc" -O2 -I"$k/include" -I"$k/src" "$here/fp32_depthwise_bits.c" "$out/dw_old.o" "$k"/src/*.c -o "$out/fp32_depthwise_bits" -lm
"$out/fp32_depthwise_bits"
