#!/usr/bin/env bash
# mnist_mlp (or cnn_fashion) --save, then predict on the test images: the saved model classifies them with the
# accuracy the trained one reported (the same bits predict the same classes).
#   check_save_predict.sh TRAINER PREDICT DATA_DIR [TRAINER FLAGS...]
set -euo pipefail
mnist=$1 predict=$2 data=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
acc=$("$mnist" --data "$data" --epochs 1 --threads 2 --save "$tmp/m.nerve" "$@" | sed -n 's/^Test accuracy: //p')
[[ -n $acc ]] || { echo "$mnist printed no test accuracy"; exit 1; }
out=$("$predict" "$tmp/m.nerve" "$data/t10k-images-idx3-ubyte.gz" --labels "$data/t10k-labels-idx1-ubyte.gz" --count 2)
echo "$out"
grep -q "^accuracy $acc on 10000 images$" <<< "$out" || { echo "predict: expected accuracy $acc"; exit 1; }
echo "ok: the saved model's accuracy is the trained model's ($acc)"
