#!/usr/bin/env bash
# Installs the Debian packages brenier needs (only those missing), then configures and builds.
#   scripts/bootstrap.sh [build-dir] [extra meson options...]
#   BOOTSTRAP_TARGETS="tests/test_engine ..." builds only those ninja targets (default: everything).
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ meson ninja-build pkg-config libdnnl-dev libfmt-dev doctest-dev libcli11-dev
          nlohmann-json3-dev libpng-dev libjpeg-dev libeigen3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build="${1:-build}"
shift || true
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(--buildtype=release)
if [ ! -f "$build/build.ninja" ]; then
  # A CUDA build compiles through tools/nvcc-with-deps, so that header edits rebuild the kernels (meson < 1.4
  # gives nvcc no dependency file). Meson 1.0 takes it from a native file, which must outlive the setup.
  if [[ " ${options[*]} " == *" -Dcuda=enabled "* || " ${options[*]} " == *" -Dcuda=auto "* ]]; then
    mkdir -p "$build"
    printf "[binaries]\ncuda = '%s'\n" "$PWD/tools/nvcc-with-deps" > "$build/cuda-native.ini"
    options+=(--native-file "$build/cuda-native.ini")
  fi
  meson setup "$build" "${options[@]}" > /tmp/brenier-setup.log 2>&1 || { cat /tmp/brenier-setup.log; exit 1; }
fi
read -r -a targets <<< "${BOOTSTRAP_TARGETS:-}"
ninja -C "$build" -j"$(nproc)" "${targets[@]}" | tail -n 1
