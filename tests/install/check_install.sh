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
cmake -S "$src/tests/install/consumer" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DNERVE_TARGET=$target > /dev/null
cmake --build "$tmp/build" > /dev/null
"$tmp/build/consumer"
# the consumer depends on libnerve.so exactly when it linked the shared target
if readelf -d "$tmp/build/consumer" | grep -q 'NEEDED.*libnerve\.so'; then linked=shared; else linked=static; fi
[[ $linked == "$kind" ]] || { echo "consumer linked nerve $linked, expected $kind" >&2; exit 1; }
echo "install + find_package(nerve) + link $target ($kind): ok"
