#!/usr/bin/env bash
# The INT8 accuracy table of docs/benchmarks.md: every model of the zoo calibrated by Octet (kl,
# the first SAMPLES shared images, its recipe) and, where ONNX Runtime's quantize_static can make
# one, ONNX Runtime's own QDQ file of the same model (calibrated on the same preprocessed images);
# each file run by Octet and by ONNX Runtime on held-out images 250.. (EVAL of them), compared
# with FP32 and with each other (scripts/ort_zoo_check.py). Prints one JSON line per model and file.
#
# usage: scripts/zoo_int8_check.sh [OCTET] [SHARED] [SAMPLES] [EVAL]
# Needs: a release build, python3 with onnxruntime, onnx and numpy.
set -uo pipefail
cd "$(dirname "$0")/.."
OCTET=${1:-.build/release/octet}; SHARED=${2:-../shared}; SAMPLES=${3:-64}; EVAL=${4:-128}
IMAGES=$SHARED/data/imagenet-sample
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
for model in "$SHARED"/models/zoo/*.onnx; do
  name=$(basename "$model" .onnx); dir=$WORK/$name
  if ! "$OCTET" calibrate "$model" --data "$IMAGES" --samples "$SAMPLES" --out "$dir" > "$WORK/$name.log" 2>&1; then
    echo "{\"model\": \"$name\", \"file\": \"octet\", \"error\": \"calibrate failed: $(tail -1 "$WORK/$name.log")\"}"; continue
  fi
  # The calibration inputs, preprocessed by Octet, for ONNX Runtime's calibration.
  "$OCTET" eval "$model" "$dir/$name.int8.onnx" --data "$IMAGES" --limit "$SAMPLES" --save-inputs "$WORK/$name.cal.npz" > /dev/null 2>&1
  ort_file=""
  if python3 scripts/ort_quantize.py "$model" "$WORK/$name.ort.onnx" --npz "$WORK/$name.cal.npz" --samples "$SAMPLES" --preprocess > /dev/null 2>&1; then
    ort_file=$WORK/$name.ort.onnx
  fi
  for file in "$dir/$name.int8.onnx" $ort_file; do
    kind=$([ "$file" = "$ort_file" ] && echo ort || echo octet)
    if ! "$OCTET" eval "$model" "$file" --data "$IMAGES" --offset 250 --limit "$EVAL" --save-inputs "$WORK/in.npz" \
         --save-outputs "$WORK/out.npz" > "$WORK/eval.log" 2>&1; then
      echo "{\"model\": \"$name\", \"file\": \"$kind\", \"error\": \"octet eval failed: $(tail -1 "$WORK/eval.log")\"}"; continue
    fi
    result=$(python3 scripts/ort_zoo_check.py "$model" "$file" "$WORK/in.npz" "$WORK/out.npz" 2>&1 | tail -1)
    case "$result" in
      \{*) echo "{\"model\": \"$name\", \"file\": \"$kind\", ${result#\{}" ;;
      *) echo "{\"model\": \"$name\", \"file\": \"$kind\", \"error\": \"ONNX Runtime: $(echo "$result" | tr '"' "'" | cut -c1-200)\"}" ;;
    esac
  done
  [ -z "$ort_file" ] && echo "{\"model\": \"$name\", \"file\": \"ort\", \"error\": \"quantize_static failed\"}"
done
