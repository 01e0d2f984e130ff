#!/usr/bin/env bash
# tests/ mirrors src/: every layer of src/ has its test folder of the same name, and every folder of tests/ is a
# layer's or one of the shared ones (examples, fuzz targets, golden files and their reader, the install check, these
# layer checks). Usage: check_tests_mirror.sh SOURCE_DIR
set -euo pipefail
root=${1:?usage: check_tests_mirror.sh SOURCE_DIR}
shared=" examples fuzz golden install layers "
status=0
for d in "$root"/src/*/; do
  layer=$(basename "$d")
  [[ -d "$root/tests/$layer" ]] || { echo "src/$layer has no tests/$layer"; status=1; }
done
for d in "$root"/tests/*/; do
  name=$(basename "$d")
  [[ -d "$root/src/$name" || "$shared" == *" $name "* ]] || { echo "tests/$name mirrors no layer of src/"; status=1; }
done
[[ $status -eq 0 ]] && echo "tests/ mirrors src/ ($(ls -d "$root"/src/*/ | wc -l) layers)"
exit $status
