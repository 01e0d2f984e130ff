#!/usr/bin/env bash
# gpt --save, then gpt --load: the loaded model (and its tokenizer, char or bpe) samples the same text (same seed) as
# the trained one did. Usage: check_save_load.sh GPT_EXE CORPUS TOKENIZER
set -euo pipefail
exe=$1 corpus=$2 tok=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(--prompt "the " --gen 48 --temperature 1 --seed 3 --threads 1)
"$exe" --data "$corpus" --tokenizer "$tok" --vocab-size 300 --steps 3 --batch-size 4 --context 32 --layers 2 \
  --width 32 --heads 2 --ff 64 --eval-batches 2 --save "$dir/m.st" "${common[@]}" >"$dir/trained.txt" 2>"$dir/log"
"$exe" --load "$dir/m.st" "${common[@]}" >"$dir/loaded.txt" 2>>"$dir/log"
sample=$(head -1 "$dir/trained.txt")
if [[ -z $sample || $sample != "the "* ]]; then
  echo "FAIL: no sample after training: $(cat "$dir/trained.txt" "$dir/log")"
  exit 1
fi
if [[ $(head -1 "$dir/loaded.txt") != "$sample" ]]; then
  echo "FAIL: the loaded model generates differently:"
  echo "trained: $sample"
  echo "loaded:  $(head -1 "$dir/loaded.txt")"
  exit 1
fi
echo "ok ($tok): $sample"
