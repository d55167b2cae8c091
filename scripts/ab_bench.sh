#!/usr/bin/env bash
# A/B throughput of two `octet` binaries or two model files on this noisy machine: alternates
# `octet bench` runs of A and B (A first each round) and prints each one's best images/s and B/A.
# usage: scripts/ab_bench.sh ROUNDS MODEL_A MODEL_B [octet bench options...]
#   BIN=path (default .build/release/octet), or BIN_A / BIN_B for two binaries (copy the first
#   build aside before rebuilding).
# docs/benchmarks.md quotes "best of N alternating runs" from this script.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,7p "$0"; exit 2; }
rounds=$1; a=$2; b=$3; shift 3
bin_a=${BIN_A:-${BIN:-.build/release/octet}}; bin_b=${BIN_B:-${BIN:-.build/release/octet}}
rate() { "$1" bench "$2" "${@:3}" | awk '/images\/s/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "images/s,") print $i }'; }
best_a=0; best_b=0
for _ in $(seq "$rounds"); do
    ra=$(rate "$bin_a" "$a" "$@"); rb=$(rate "$bin_b" "$b" "$@")
    [ -n "$ra" ] && [ -n "$rb" ] || { echo "a run printed no images/s (see: $bin_a bench $a $*)" >&2; exit 1; }
    best_a=$(awk -v x="$best_a" -v y="$ra" 'BEGIN { print (y > x ? y : x) }')
    best_b=$(awk -v x="$best_b" -v y="$rb" 'BEGIN { print (y > x ? y : x) }')
done
awk -v a="$best_a" -v b="$best_b" 'BEGIN { printf "A best %.1f  B best %.1f images/s  B/A %.3f\n", a, b, b / a }'
