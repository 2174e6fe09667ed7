#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, fuzzes the file parsers for a bounded time,
# and runs the whole test suite under ctest (its summary is the last thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# Bounded fuzzing of the safetensors and tokenizer.json parsers (clang, ASan + UBSan).
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash scripts/fuzz.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" "$@"
