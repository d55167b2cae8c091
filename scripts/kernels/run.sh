#!/usr/bin/env bash
# Builds and runs the C kernel harnesses (single-thread kernel timings on hot caches, each checked
# against the scalar twin) that docs/benchmarks.md quotes as "kernel level". Needs clang (or cc).
# usage: scripts/kernels/run.sh [harness ...]   (default: the four layer harnesses; int8_s16_loops,
# int8_elementwise, int8_conv_fuzz and fp32_winograd_layers on request)
# CFLAGS adds compiler flags (for example -DCK_DW2_L1_FLOATS=8192 to try a blocking constant).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
k="$here/../../Sources/CKernels"
out="${TMPDIR:-/tmp}/octet-kernels"
mkdir -p "$out"
cc="${CC:-clang}"
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(int8_conv_layers int8_depthwise_layers fp32_conv_layers fp32_depthwise_layers)
for n in "${names[@]}"; do
    "$cc" ${CFLAGS:-} -O2 -I"$k/include" -I"$k/src" "$here/$n.c" "$k"/src/*.c -o "$out/$n" -lm
    if [ "$n" = int8_conv_layers ]; then
        # Each path the CPU has (a path it lacks would stop on an illegal instruction).
        if grep -qw avx512_vnni /proc/cpuinfo; then
            for set in resnet18 efficientnet; do echo "== $n $set avx512vnni"; "$out/$n" "$set"; done
        fi
        # The vpmaddubsw paths: 7-bit weights as they are, and the two exact forms of 8-bit weights.
        for path in avx512bw avx2; do
            grep -qw "$path" /proc/cpuinfo || continue
            for form in s8 split s16; do
                for set in resnet18 efficientnet; do
                    echo "== $n $set $path $form"; "$out/$n" "$set" "$path" "$form" | grep -E "^peak|^3x3|^total|MISMATCH"
                done
            done
        done
    elif [ "$n" = fp32_winograd_layers ] && grep -qw avx512f /proc/cpuinfo; then
        for path in avx512 avx2; do echo "== $n $path"; "$out/$n" "$path"; done
    else
        echo "== $n"
        "$out/$n"
    fi
done
