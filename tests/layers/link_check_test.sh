#!/usr/bin/env bash
# The link-time layer check (NERVE_LAYER_CHECK in CMakeLists.txt) can fail: a planted tensor-layer object that calls
# an op (Tensor::zero_, defined in the ops layer) does not link against the layers up to tensor with
# -Wl,--no-undefined, and links once the ops layer is there.
#   link_check_test.sh BUILD_DIR SOURCE_DIR CXX
set -uo pipefail
build=$1 src=$2 cxx=${3:-g++}
lib=$build/layer_check
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/planted.cpp" <<'CPP'
#include "nerve/tensor/tensor.h"
void planted(nerve::Tensor& t) { t.zero_(); }  // a tensor-layer file calling an op
CPP
"$cxx" -std=c++20 -fPIC -I"$src/include" -c "$tmp/planted.cpp" -o "$tmp/planted.o" || { echo "FAIL: compile"; exit 1; }
link() { "$cxx" -shared -o "$tmp/planted.so" "$tmp/planted.o" -L"$lib" "$@" -Wl,--no-undefined 2>"$tmp/err"; }
if link -lnerve_layer_check_core -lnerve_layer_check_tensor; then
  echo "FAIL: an upward call from the tensor layer linked"; exit 1
fi
grep -q "zero_" "$tmp/err" || { echo "FAIL: the link error does not name the call:"; cat "$tmp/err"; exit 1; }
link -lnerve_layer_check_core -lnerve_layer_check_tensor -lnerve_layer_check_backend -lnerve_layer_check_autograd \
  -lnerve_layer_check_ops || { echo "FAIL: the planted object does not link with the ops layer:"; cat "$tmp/err"; exit 1; }
echo "ok: the link check refuses an upward call and accepts it from above"
