#!/usr/bin/env bash
# Installs the Debian -dev packages Octet links against, if any is missing.
set -euo pipefail
packages=(pkg-config libturbojpeg0-dev libpng-dev libzmq3-dev liblz4-dev libsodium-dev libsqlite3-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
