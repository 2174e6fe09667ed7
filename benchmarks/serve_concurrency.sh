#!/bin/bash
# Aggregate output tokens/s of `serval serve` at concurrency 1, 4, 8, 16 (32 output tokens, ~20-token
# prompts), measured with `serval bench serve`, plus the engine's step-time breakdown from the server log.
# Usage: [QUANT=int8|int4] benchmarks/serve_concurrency.sh MODEL_DIR [SERVAL_BINARY] [THREADS]
#   MODEL_DIR e.g. from `serval make-model --preset qwen2.5-1.5b --out /tmp/q15`
set -euo pipefail
model=${1:?usage: serve_concurrency.sh MODEL_DIR [SERVAL_BINARY] [THREADS]}
serval=${2:-$(dirname "$0")/../build/serval}
threads=${3:-2}
port=${PORT:-8765}
out=$(mktemp -d)
"$serval" serve "$model" --host 127.0.0.1 --port "$port" --served-model-name bench --threads "$threads" \
  --max-model-len 1024 --kv-cache-memory 2GiB --disable-log-requests --generation-config vllm ${QUANT:+--quantization $QUANT} \
  > "$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q "Starting serval API server" "$out/serve.log" && break
  kill -0 $server 2>/dev/null || { cat "$out/serve.log"; exit 1; }
  sleep 0.2
done
printf "%-12s %-10s %-14s %-12s %-12s\n" concurrency requests "output tok/s" "p50 TTFT ms" "p50 TPOT ms"
for c in 1 4 8 16; do
  n=$((c * 3 > 4 ? c * 3 : 4))
  "$serval" bench serve --base-url "http://127.0.0.1:$port" --model bench --tokenizer "$model" --dataset random \
    --input-len 20 --output-len 32 --num-prompts "$n" --max-concurrency "$c" --ignore-eos --warmup 1 \
    --save-result "$out/c$c.json" > "$out/c$c.txt" 2>&1
  python3 -c "import json,sys; r=json.load(open('$out/c$c.json')); print('%-12d %-10d %-14.2f %-12.1f %-12.1f' % ($c, r['completed'], r['output_throughput'], r['median_ttft_ms'], r['median_tpot_ms']))"
done
kill -INT $server
wait $server || true
grep -E "Engine steps:" "$out/serve.log" || true
rm -rf "$out"
