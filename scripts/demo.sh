#!/usr/bin/env bash
# The README's main command: builds serval, makes a Qwen2.5-0.5B-shaped model with random weights and
# the real Qwen2.5 tokenizer, chats with it (the text is gibberish: the weights are random), and
# measures prefill and decode speed like llama-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
MODEL_DIR="${SERVAL_DEMO_MODEL:-build/models/qwen2.5-0.5b}"
if [ ! -f "$MODEL_DIR/config.json" ]; then
  ./build/serval make-model --arch qwen2 --preset qwen2.5-0.5b --dtype bfloat16 --out "$MODEL_DIR"
fi
echo "== serval generate (chat template applied; random weights, so the words are noise)"
./build/serval generate "$MODEL_DIR" --chat --prompt "Name three rivers in Europe." --max-tokens 24 --temperature 0.7 --seed 1
echo
echo "== serval bench model"
./build/serval bench model "$MODEL_DIR" -p 128 -n 32 -r 2
