#!/usr/bin/env bash
# A/B throughput of two `octet` binaries or two model files on this noisy machine: alternates
# `octet bench` runs of A and B (A first in odd rounds, B first in even ones) and prints each
# one's median and best images/s and their B/A. On a shared VM the best of a few runs is luck (one
# binary against itself gave best-of-30 B/A 1.31 on Zen 4 while its medians agreed within 3%):
# compare the medians, over 15+ rounds.
# usage: scripts/ab_bench.sh ROUNDS MODEL_A MODEL_B [octet bench options...]
#   BIN=path (default .build/release/octet), or BIN_A / BIN_B for two binaries (copy the first
#   build aside before rebuilding).
# docs/benchmarks.md quotes "median of N alternating runs" from this script.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,10p "$0"; exit 2; }
rounds=$1; a=$2; b=$3; shift 3
bin_a=${BIN_A:-${BIN:-.build/release/octet}}; bin_b=${BIN_B:-${BIN:-.build/release/octet}}
rate() { "$1" bench "$2" "${@:3}" | awk '/images\/s/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "images/s,") print $i }'; }
runs_a=(); runs_b=()
for round in $(seq "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then
        ra=$(rate "$bin_a" "$a" "$@"); rb=$(rate "$bin_b" "$b" "$@")
    else
        rb=$(rate "$bin_b" "$b" "$@"); ra=$(rate "$bin_a" "$a" "$@")
    fi
    [ -n "$ra" ] && [ -n "$rb" ] || { echo "a run printed no images/s (see: $bin_a bench $a $*)" >&2; exit 1; }
    runs_a+=("$ra"); runs_b+=("$rb")
done
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[NR] }'; }
read -r med_a best_a <<< "$(stats "${runs_a[@]}")"
read -r med_b best_b <<< "$(stats "${runs_b[@]}")"
awk -v ma="$med_a" -v mb="$med_b" -v ba="$best_a" -v bb="$best_b" -v n="$rounds" 'BEGIN {
    printf "median of %d: A %.1f  B %.1f images/s  B/A %.3f   (best: A %.1f  B %.1f  B/A %.3f)\n", n, ma, mb, mb / ma, ba, bb, bb / ba }'
