#!/usr/bin/env bash
# text_classify on 8 synthetic fortune files whose fortunes mix shared words with a few words of their own class:
# both the encoder and the bag-of-words baseline must find the class (test accuracy >= 0.9, chance 0.125).
# Usage: check_synthetic.sh TEXT_CLASSIFY_EXE [EXTRA FLAGS, e.g. --tokenizer bpe --vocab-size 300]
set -euo pipefail
exe=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
classes=(alpha beta gamma delta epsilon zeta eta theta)
shared=(the a of and to in is it that was)
for c in "${!classes[@]}"; do
  name=${classes[$c]}
  for i in $(seq 40); do
    line=""
    for j in $(seq 12); do
      if (( (i * 7 + j * 3 + c) % 4 == 0 )); then line+="${name}word$(( (i + j) % 3 )) "; else line+="${shared[$(( (i * j + c) % 10 ))]} "; fi
    done
    printf '%s\n%%\n' "$line"
  done >"$dir/$name"
done
out=$("$exe" --data "$dir" --categories "$(IFS=,; echo "${classes[*]}")" --per-class 40 --epochs 8 --width 32 \
  --layers 1 --heads 2 --threads 1 --json "$@" 2>"$dir/log")
echo "$out"
enc=$(sed -n 's/.*"encoder_accuracy": \([0-9.]*\).*/\1/p' <<<"$out")
bow=$(sed -n 's/.*"bow_accuracy": \([0-9.]*\).*/\1/p' <<<"$out")
if [[ -z $enc || -z $bow ]] || ! awk -v e="$enc" -v b="$bow" 'BEGIN { exit !(e >= 0.9 && b >= 0.9) }'; then
  echo "FAIL: expected both test accuracies >= 0.9; log:"
  cat "$dir/log"
  exit 1
fi
