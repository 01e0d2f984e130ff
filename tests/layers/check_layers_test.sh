#!/usr/bin/env bash
# The layer check passes on the tree, and fails on a copy of it with one upward include planted (so it can fail).
set -uo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$src/tools/check_layers.sh" "$src" || { echo "FAIL: the layer check fails on the tree"; exit 1; }
cp -r "$src/include" "$src/src" "$src/tools" "$tmp/"
echo '#include "nerve/keras/model.h"' >> "$tmp/src/core/error.cpp"
out=$(bash "$tmp/tools/check_layers.sh" "$tmp") && { echo "FAIL: a planted core -> keras include passed"; exit 1; }
grep -q "src/core/error.cpp -> keras" <<< "$out" || { echo "FAIL: the message does not name the include: $out"; exit 1; }
echo "ok: the layer check catches a planted upward include"
