#!/usr/bin/env bash
# The README's main command: builds serval, makes a Qwen2.5-0.5B-shaped model with random weights and
# the real Qwen2.5 tokenizer, plans its capacity on a GPU, serves it with the OpenAI-compatible server,
# runs a short chat sweep against it (table + CSV + HTML report), and stops the server.
# The generated text is gibberish: the weights are random; the speeds and capacities are real.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
MODEL_DIR="${SERVAL_DEMO_MODEL:-build/models/qwen2.5-0.5b}"
PORT="${SERVAL_DEMO_PORT:-8000}"
OUT=build/demo
mkdir -p "$OUT"
if [ ! -f "$MODEL_DIR/config.json" ]; then
  ./build/serval make-model --arch qwen2 --preset qwen2.5-0.5b --dtype bfloat16 --out "$MODEL_DIR"
fi

echo "== serval plan: how many 4k-token users fit on an H100-80GB?"
./build/serval plan "$MODEL_DIR" --device-memory h100-80gb --max-model-len 4k

echo "== serval serve (in the background; its log is $OUT/serve.log)"
./build/serval serve "$MODEL_DIR" --host 127.0.0.1 --port "$PORT" --served-model-name demo \
  --max-model-len 2k --kv-cache-memory 1GiB --disable-log-requests > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill -INT $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  grep -q "Starting serval API server" "$OUT/serve.log" && break
  kill -0 $SERVER 2>/dev/null || { cat "$OUT/serve.log"; exit 1; }
  sleep 0.2
done
grep -E "KV cache size|Maximum concurrency|Starting serval" "$OUT/serve.log"

echo "== one chat completion through the OpenAI API"
curl -s "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"demo","messages":[{"role":"user","content":"Name three rivers in Europe."}],"max_tokens":16}'
echo

echo "== serval bench sweep: chat workload at concurrency 1 and 4"
./build/serval bench sweep --base-url "http://127.0.0.1:$PORT" --model demo --tokenizer "$MODEL_DIR" \
  --dataset chat --concurrency 1,4 --max-tokens 32 --num-prompts 8 --ignore-eos --scrape-metrics \
  --goodput ttft:2000 tpot:500 --label "$(nproc)-core-cpu" \
  --output-csv "$OUT/sweep.csv" --output-json "$OUT/sweep.json" --html "$OUT/report.html"
echo "wrote $OUT/sweep.csv and $OUT/report.html (open it in a browser)"
