#!/usr/bin/env bash
# The INT8 accuracy table of docs/benchmarks.md: every model of the zoo calibrated by Octet (kl,
# the first SAMPLES shared images, its recipe) and, where ONNX Runtime's quantize_static can make
# one, ONNX Runtime's own QDQ file of the same model (calibrated on the same preprocessed images;
# "ort" with its default int8 activations, "ort-u8" with uint8 ones, the form its x86 kernels fuse),
# and with NNCF installed, NNCF's (scripts/nncf_quantize.py, the same images); each file run by Octet and by ONNX Runtime on held-out images OFFSET.. (EVAL of them; OFFSET 250 by default), compared
# with FP32 and with each other (scripts/ort_zoo_check.py). Prints one JSON line per model and file.
#
# usage: [FILES="octet ort ort-u8 nncf"] [OFFSET=250] scripts/zoo_int8_check.sh [OCTET] [SHARED] [SAMPLES] [EVAL]
# FILES picks the kinds of file (default all four). Needs: a release build, python3 with
# onnxruntime, onnx and numpy (and nncf for NNCF's files: pip install nncf).
set -uo pipefail
cd "$(dirname "$0")/.."
OCTET=${1:-.build/release/octet}; SHARED=${2:-../shared}; SAMPLES=${3:-64}; EVAL=${4:-128}; OFFSET=${OFFSET:-250}
FILES=${FILES:-octet ort ort-u8 nncf}
wanted() { case " $FILES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
IMAGES=$SHARED/data/imagenet-sample
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
for model in "$SHARED"/models/zoo/*.onnx; do
  name=$(basename "$model" .onnx); dir=$WORK/$name
  if ! "$OCTET" calibrate "$model" --data "$IMAGES" --samples "$SAMPLES" --out "$dir" > "$WORK/$name.log" 2>&1; then
    echo "{\"model\": \"$name\", \"file\": \"octet\", \"error\": \"calibrate failed: $(tail -1 "$WORK/$name.log")\"}"; continue
  fi
  # The calibration inputs, preprocessed by Octet, for ONNX Runtime's calibration.
  "$OCTET" eval "$model" "$dir/$name.int8.onnx" --data "$IMAGES" --limit "$SAMPLES" --save-inputs "$WORK/$name.cal.npz" > /dev/null 2>&1
  ort_file=""; ort_u8_file=""; nncf_file=""
  if wanted nncf; then
    if python3 scripts/nncf_quantize.py "$model" "$WORK/$name.nncf.onnx" --npz "$WORK/$name.cal.npz" --samples "$SAMPLES" > "$WORK/nncf.log" 2>&1; then
      nncf_file=$WORK/$name.nncf.onnx
    else
      echo "{\"model\": \"$name\", \"file\": \"nncf\", \"error\": \"nncf_quantize failed: $(tail -1 "$WORK/nncf.log" | tr '"' "'" | cut -c1-200)\"}"
    fi
  fi
  if wanted ort && python3 scripts/ort_quantize.py "$model" "$WORK/$name.ort.onnx" --npz "$WORK/$name.cal.npz" --samples "$SAMPLES" --preprocess > /dev/null 2>&1; then
    ort_file=$WORK/$name.ort.onnx
  fi
  if wanted ort-u8 && python3 scripts/ort_quantize.py "$model" "$WORK/$name.ort-u8.onnx" --npz "$WORK/$name.cal.npz" --samples "$SAMPLES" \
       --preprocess --activations uint8 > /dev/null 2>&1; then
    ort_u8_file=$WORK/$name.ort-u8.onnx
  fi
  octet_file=""; wanted octet && octet_file=$dir/$name.int8.onnx
  for file in $octet_file $ort_file $ort_u8_file $nncf_file; do
    kind=octet; [ "$file" = "$ort_file" ] && kind=ort; [ "$file" = "$ort_u8_file" ] && kind=ort-u8; [ "$file" = "$nncf_file" ] && kind=nncf
    if ! "$OCTET" eval "$model" "$file" --data "$IMAGES" --offset "$OFFSET" --limit "$EVAL" --save-inputs "$WORK/in.npz" \
         --save-outputs "$WORK/out.npz" > "$WORK/eval.log" 2>&1; then
      echo "{\"model\": \"$name\", \"file\": \"$kind\", \"error\": \"octet eval failed: $(tail -1 "$WORK/eval.log")\"}"; continue
    fi
    result=$(python3 scripts/ort_zoo_check.py "$model" "$file" "$WORK/in.npz" "$WORK/out.npz" 2>&1 | tail -1)
    case "$result" in
      \{*) echo "{\"model\": \"$name\", \"file\": \"$kind\", ${result#\{}" ;;
      *) echo "{\"model\": \"$name\", \"file\": \"$kind\", \"error\": \"ONNX Runtime: $(echo "$result" | tr '"' "'" | cut -c1-200)\"}" ;;
    esac
  done
  wanted ort && [ -z "$ort_file" ] && echo "{\"model\": \"$name\", \"file\": \"ort\", \"error\": \"quantize_static failed\"}"
  wanted ort-u8 && [ -z "$ort_u8_file" ] && echo "{\"model\": \"$name\", \"file\": \"ort-u8\", \"error\": \"quantize_static failed\"}"
done
