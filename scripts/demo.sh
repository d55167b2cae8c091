#!/usr/bin/env bash
# The main job on the embedded default: EfficientNet-Lite0 (real ImageNet weights) in FP32 over
# the 500 sample images of ../shared: top-1/top-5 accuracy and throughput.
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
.build/release/octet inspect "$model"
.build/release/octet run "$model" --data "$data" --labels "$data/labels.csv" --preprocess efficientnet-lite --batch 32
