#!/usr/bin/env bash
# Regenerates Generated/onnx.pb.swift from onnx.proto.
# onnx.proto is copied verbatim from the `onnx` wheel on PyPI, version 1.23.2
# (site-packages/onnx/onnx.proto). Needs protoc (Debian: protobuf-compiler) and
# protoc-gen-swift built from apple/swift-protobuf 1.39.0:
#   git clone https://github.com/apple/swift-protobuf && cd swift-protobuf && git checkout 1.39.0
#   swift build -c release --product protoc-gen-swift
# then run:  PROTOC_GEN_SWIFT=/path/to/.build/release/protoc-gen-swift ./regenerate.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift)}"
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public \
  --swift_out="$here/../Generated" \
  --proto_path="$here" onnx.proto
