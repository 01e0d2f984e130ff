#!/usr/bin/env bash
# Builds a file-parser fuzzer (clang, libFuzzer + ASan + UBSan, over a clang build of libnerve) and runs it for
# SECONDS on a seed corpus. TARGET: idx (the IDX reader, raw and gzip), tokenizer (CharTokenizer::load),
# safetensors (io::parse_safetensors), torch (io::parse_torch: libzip + the restricted unpickler), pickle (the
# unpickler alone), keras (the Keras model file's config reader), image (the PNG and JPEG decoders) or
# sentencepiece (data::Tokenizer's model reader); these six start from the committed corpus
# tests/fuzz/corpus/TARGET. The 1M-run check of the issue:
#   tools/fuzz.sh safetensors 0 build-fuzz -runs=1000000      (extra arguments go to libFuzzer)
# Crashes land in BUILD/fuzz_TARGET-crash-*; the grown corpus in BUILD/fuzz_TARGET_corpus.
#   tools/fuzz.sh TARGET [SECONDS=60] [BUILD=build-fuzz] [LIBFUZZER_ARGS...]  (SECONDS 0: no time limit; JOBS=2
#   sets the build parallelism)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: tools/fuzz.sh idx|tokenizer|safetensors|torch|pickle|keras|image|sentencepiece [SECONDS] [BUILD] [LIBFUZZER_ARGS...]}
secs=${2:-60}
build=$(realpath -m "${3:-$root/build-fuzz}")
shift $(($# < 3 ? $# : 3))
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
case $target in idx | tokenizer | safetensors | torch | pickle | keras | image | sentencepiece) ;;
  *) echo "unknown target '$target' (idx, tokenizer, safetensors, torch, pickle, keras, image or sentencepiece)" >&2; exit 2 ;;
esac

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link $san" \
  -DNERVE_BUILD_TESTS=OFF -DNERVE_BUILD_EXAMPLES=OFF -DNERVE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target nerve
exe="$build/fuzz_$target"
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer $san -I"$root/include" -I"$root/src" "$root/tests/fuzz/fuzz_$target.cpp" \
  "$build/libnerve.a" -ldnnl -lz -lzip -lpng -ljpeg -lsentencepiece -fopenmp -o "$exe"

seeds="$build/fuzz_${target}_seeds"
mkdir -p "$seeds" "$build/fuzz_${target}_corpus"
if [ "$target" = idx ]; then  # a small valid file of every type, raw and gzip
  printf '\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03\x01\x02\x03\x04\x05\xff' >"$seeds/u8"
  printf '\x00\x00\x09\x01\x00\x00\x00\x03\x80\xff\x7f' >"$seeds/i8"
  printf '\x00\x00\x0b\x01\x00\x00\x00\x02\x01\x02\xff\xfe' >"$seeds/i16"
  printf '\x00\x00\x0c\x02\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x07\xff\xff\xff\xfe' >"$seeds/i32"
  printf '\x00\x00\x0d\x01\x00\x00\x00\x02\x3f\x80\x00\x00\xc0\x49\x0f\xdb' >"$seeds/f32"
  printf '\x00\x00\x0e\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x40\x09\x21\xfb\x54\x44\x2d\x18' >"$seeds/f64"
  printf '\x00\x00\x08\x01\x00\x00\x00\x00' >"$seeds/empty"
  for f in u8 i8 i16 i32 f32 f64 empty; do gzip -9 -n -c "$seeds/$f" >"$seeds/$f.gz"; done
elif [ "$target" = tokenizer ]; then  # vocabulary files as CharTokenizer::save writes them (LF and CRLF), and an empty one
  printf 'nerve-char-tokenizer 1\nvocab_size 3\n0a\n41\nff\n' >"$seeds/three"
  printf 'nerve-char-tokenizer 1\r\nvocab_size 2\r\n20\r\n7a\r\n' >"$seeds/crlf"
  printf 'nerve-char-tokenizer 1\nvocab_size 0\n' >"$seeds/empty"
else  # safetensors files, torch.save checkpoints and their pickles (tests/io/make_torch_files.py), Keras configs,
  # PNG and JPEG files (tests/data/images/make_images.py), SentencePiece models (spm_train, identity normalization)
  cp "$root/tests/fuzz/corpus/$target"/* "$seeds/"
fi

"$exe" -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$build/fuzz_$target-crash-" "$@" "$build/fuzz_${target}_corpus" "$seeds"
