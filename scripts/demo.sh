#!/usr/bin/env bash
# The main job on the embedded default: a local cluster (a coordinator and 2 workers over ZeroMQ)
# calibrates EfficientNet-Lite0 (real ImageNet weights) to INT8 on the first 250 sample images of
# ../shared, checks INT8 against FP32 on the workers, then the INT8 model is evaluated on the other
# 250 images (accuracy of both, agreement, SQNR) and runs as distributed INT8 batch inference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product octet
shared="${OCTET_SHARED:-../shared}"
model="$shared/models/efficientnet_lite0_fp32.onnx"
data="$shared/data/imagenet-sample"
if [ ! -f "$model" ]; then
  echo "error: $model not found (set OCTET_SHARED to the folder holding models/ and data/)" >&2
  exit 1
fi
B=.build/release/octet
out="${OCTET_OUT:-artifacts/efficientnet-lite0}"
state="artifacts/cluster-state"
endpoint="ipc://$PWD/artifacts/coordinator.ipc"
mkdir -p artifacts
export OCTET_COORDINATOR="$endpoint"

$B inspect "$model"
$B cluster up --workers 2 --bind "$endpoint" --state "$state" --http 127.0.0.1:9100 > artifacts/cluster.log 2>&1 &
cluster=$!
trap 'kill -INT $cluster 2>/dev/null; wait $cluster 2>/dev/null || true' EXIT
echo "local cluster: coordinator + 2 workers (log: artifacts/cluster.log, status: http://127.0.0.1:9100/status)"

$B submit calibrate "$model" --data "$data" --preprocess efficientnet-lite --samples 250 --wait --out "$out"
$B status
$B eval "$model" "$out/efficientnet_lite0_fp32.int8.onnx" --data "$data" --labels "$data/labels.csv" \
  --preprocess efficientnet-lite --offset 250
$B submit infer "$out/efficientnet_lite0_fp32.int8.onnx" --data "$data" --labels "$data/labels.csv" \
  --preprocess efficientnet-lite --offset 250 --batch 25 --out "$out/predictions.jsonl"
echo "artifacts: $out (INT8 QDQ model, calibration.json, calibration.cache, report.md, predictions.jsonl)"
