#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in ./build-fuzz and runs each for a bounded
# time (default 20 s; FUZZ_SECONDS=N to change) from the seed corpus in fuzz/corpus. Exits non-zero on
# any crash, leak or sanitizer report. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVAL_FUZZ=ON \
  -DSERVAL_BUILD_TESTS=OFF -DSERVAL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz --parallel "$(nproc)" --target safetensors_fuzz tokenizer_json_fuzz
for target in safetensors:safetensors_fuzz tokenizer_json:tokenizer_json_fuzz; do
  corpus="fuzz/corpus/${target%%:*}"
  bin="build-fuzz/fuzz/${target##*:}"
  work="$(mktemp -d)"
  cp "$corpus"/* "$work"/
  echo "fuzz: ${bin##*/} for ${seconds}s"
  "$bin" -max_total_time="$seconds" -max_len=4096 -print_final_stats=0 "$work" 2>&1 | tail -n 3
  rm -rf "$work"
done
echo "fuzz: 2 passed, 0 failed"
