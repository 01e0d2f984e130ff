#!/usr/bin/env bash
# The examples' command lines (examples/common/cli.h): --help exits 0 and lists the flags; an unknown flag or a bad
# value exits 2 with one line on stderr naming the program, before any data is read (the --data directory given
# here is empty, so reaching the data would fail differently, with exit 1).
# Usage: check_cli.sh BUILD_DIR
set -u
bin=$1/examples
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
fail=0

# expect CODE PROGRAM ARGS...: exit code CODE; for 2, exactly one stderr line starting with "PROGRAM: "
expect() {
  local code=$1 prog=$2
  shift 2
  local out err got
  out=$("$bin/$prog" "$@" 2>"$empty/err")
  got=$?
  err=$(cat "$empty/err")
  if [[ $got -ne $code ]]; then
    echo "FAIL: $prog $*: exit $got, expected $code; stderr: $err"
    fail=1
    return
  fi
  if [[ $code -eq 2 ]]; then
    if [[ $(printf '%s\n' "$err" | wc -l) -ne 1 || $err != "$prog: "* ]]; then
      echo "FAIL: $prog $*: expected one stderr line starting with '$prog: ', got: $err"
      fail=1
    fi
  fi
  if [[ $code -eq 0 && $out != *"--help"* ]]; then
    echo "FAIL: $prog $*: the usage does not list --help: $out"
    fail=1
  fi
}

for prog in mnist_mlp mnist_module char_lstm two_moons predict cnn_fashion gpt text_classify resnet; do
  expect 0 "$prog" --help
  expect 2 "$prog" --bogus
done
d=(--data "$empty")
expect 2 mnist_mlp "${d[@]}" --epochs abc
expect 2 mnist_mlp "${d[@]}" --epochs 99999999999
expect 2 mnist_mlp "${d[@]}" --epochs 1.5
expect 2 mnist_mlp "${d[@]}" --epochs 0
expect 2 mnist_mlp "${d[@]}" --seed xyz
expect 2 mnist_mlp "${d[@]}" --seed -1
expect 2 mnist_mlp "${d[@]}" --threads 0
expect 2 mnist_mlp "${d[@]}" --threads -3
expect 2 mnist_mlp "${d[@]}" --threads 1000
expect 2 mnist_mlp "${d[@]}" --batch-size 0
expect 2 mnist_mlp "${d[@]}" --epochs
expect 1 mnist_mlp --data "$empty/missing"       # the reader names the directory and the package
expect 1 mnist_mlp "${d[@]}" --epochs 1          # valid flags: the empty directory is found wanting
expect 2 cnn_fashion "${d[@]}" --epochs abc
expect 2 cnn_fashion "${d[@]}" --train-limit -1
expect 2 cnn_fashion "${d[@]}" --threads 0
expect 1 cnn_fashion "${d[@]}" --epochs 1
expect 2 mnist_module "${d[@]}" --epochs
expect 2 mnist_module "${d[@]}" --epochs 1 --bogus
expect 2 mnist_module "${d[@]}" --epochs abc
expect 2 char_lstm "${d[@]}" --steps abc
expect 2 char_lstm "${d[@]}" --steps 0
expect 2 char_lstm "${d[@]}" --steps 1.5
expect 2 char_lstm "${d[@]}" --batch -1
expect 2 char_lstm "${d[@]}" --threads 1000
expect 2 char_lstm --data "$empty/missing"
expect 2 two_moons extra
expect 2 predict                                  # the model and the images are required
expect 2 predict "$empty/missing.nerve" "$empty/missing-images"
expect 2 char_lstm "${d[@]}" --resume "$empty/missing.ckpt"
expect 2 gpt "${d[@]}" --steps abc
expect 2 gpt "${d[@]}" --tokenizer wordpiece
expect 2 gpt "${d[@]}" --top-p 1.5
expect 2 gpt "${d[@]}" --batch-size 0
expect 2 gpt --load "$empty/missing.st"
expect 1 gpt "${d[@]}" --steps 1                  # valid flags: the empty directory is found wanting
expect 2 text_classify "${d[@]}" --epochs 0
expect 2 text_classify --data "$empty/missing"
expect 2 resnet "${d[@]}" --steps -1
expect 2 resnet "${d[@]}" --lr abc
expect 2 resnet "${d[@]}" --lr -1
expect 2 resnet "${d[@]}" --batch-size 0
expect 1 resnet "${d[@]}" --epochs 1
exit $fail
