#!/usr/bin/env bash
# Regenerates ../Generated/octet_jobs.pb.swift from octet_jobs.proto.
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift built from apple/swift-protobuf 1.39.0
# (see Sources/OctetONNX/Proto/regenerate.sh), then:  PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift ./regenerate.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift)}"
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public \
  --swift_out="$here/../Generated" \
  --proto_path="$here" octet_jobs.proto
