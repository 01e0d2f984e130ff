#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then builds and runs a consumer project that finds it
# with find_package(nerve) and links nerve::nerve (static), or nerve::nerve_shared when the build made libnerve.so.
#   Usage: check_install.sh BUILD_DIR SOURCE_DIR [static|shared]
set -euo pipefail
build=$1 src=$2 kind=${3:-static}
target=nerve::nerve
[[ $kind == shared ]] && target=nerve::nerve_shared
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
# dependencies are imported targets found on the consumer's machine (DNNL::dnnl, ZLIB::ZLIB), never build-time paths
targets=$(find "$tmp/prefix" -name nerveTargets.cmake)
[[ -f $targets ]] || { echo "no nerveTargets.cmake installed under $tmp/prefix" >&2; exit 1; }
if grep 'INTERFACE_LINK_LIBRARIES' "$targets" | grep -q '/'; then
  echo "nerveTargets.cmake links a library by path:" >&2
  grep 'INTERFACE_LINK_LIBRARIES' "$targets" >&2
  exit 1
fi
cmake -S "$src/tests/install/consumer" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DNERVE_TARGET=$target > /dev/null
cmake --build "$tmp/build" > /dev/null
"$tmp/build/consumer"
# the consumer depends on libnerve.so exactly when it linked the shared target
if readelf -d "$tmp/build/consumer" | grep -q 'NEEDED.*libnerve\.so'; then linked=shared; else linked=static; fi
[[ $linked == "$kind" ]] || { echo "consumer linked nerve $linked, expected $kind" >&2; exit 1; }
echo "install + find_package(nerve) + link $target ($kind): ok"
