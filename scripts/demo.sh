#!/usr/bin/env bash
# The main job on the embedded default: EfficientNet-Lite0 (real ImageNet weights) calibrated to
# INT8 on the first 250 sample images of ../shared and evaluated against FP32 on the other 250:
# accuracy of both, top-1 agreement, SQNR, throughput, and where the artifacts are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release
shared="${OCTET_SHARED:-../shared}"
model="$shared/models/efficientnet_lite0_fp32.onnx"
data="$shared/data/imagenet-sample"
if [ ! -f "$model" ]; then
  echo "error: $model not found (set OCTET_SHARED to the folder holding models/ and data/)" >&2
  exit 1
fi
out="${OCTET_OUT:-artifacts/efficientnet-lite0}"
.build/release/octet inspect "$model"
.build/release/octet calibrate "$model" --data "$data" --preprocess efficientnet-lite --samples 250 --out "$out"
.build/release/octet eval "$model" "$out/efficientnet_lite0_fp32.int8.onnx" --data "$data" --labels "$data/labels.csv" \
  --preprocess efficientnet-lite --offset 250
.build/release/octet bench "$out/efficientnet_lite0_fp32.int8.onnx" --batch 32
echo "artifacts: $out (INT8 QDQ model, calibration.json, calibration.cache, report.md)"
