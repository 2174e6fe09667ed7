// `serval bench serve`: benchmarks any OpenAI-compatible server with streaming requests and prints
// vLLM's "Serving Benchmark Result" block; --save-result writes the JSON (see docs/MEASURING.md).
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "bench/report.h"
#include "bench/run_bench.h"
#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace serval::cli {

namespace {

struct ServeFlags {
  bench::BenchConfig config;
  std::string request_rate = "inf";
  std::string burstiness = "1";
  std::vector<std::string> goodput;
  std::string percentiles = "50,90,95,99";
  std::string tokenizer_dir;
  std::string save_result;
  bool save_detailed = false;
};

// --tokenizer MODEL_DIR: sizes prompts exactly and cross-checks the server's usage counts.
bench::TokenCounter make_token_counter(const std::string& dir) {
  if (dir.empty()) return {};
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(dir));
  return [tokenizer](std::string_view text, bool add_special_tokens) {
    return static_cast<int>(tokenizer->encode(text, add_special_tokens).size());
  };
}

void run(ServeFlags& f) {
  bench::BenchConfig& c = f.config;
  c.request_rate = bench::parse_rate(f.request_rate, "--request-rate");
  c.burstiness = bench::parse_rate(f.burstiness, "--burstiness");
  c.goodput = bench::parse_goodput(f.goodput);
  c.percentiles = bench::parse_percentiles(f.percentiles);
  c.tokenizer_id = f.tokenizer_dir;
  c.token_counter = make_token_counter(f.tokenizer_dir);
  c.keep_text = f.save_detailed;
  c.show_progress = isatty(STDERR_FILENO) == 1;

  const bench::BenchResult result = bench::run_bench(c);
  std::fputs(bench::format_summary(result, c).c_str(), stdout);
  std::fflush(stdout);
  if (!f.save_result.empty()) {
    bench::save_json(f.save_result, bench::result_json(result, c, f.save_detailed));
    std::fprintf(stderr, "saved results to %s\n", f.save_result.c_str());
  }
  check(result.completed > 0, "all " + std::to_string(result.failed) + " requests failed (first error: " +
                                  (result.errors.empty() ? std::string("none") : result.errors.front().first) + ")");
}

}  // namespace

void add_bench_serve_command(CLI::App& bench) {
  auto flags = std::make_shared<ServeFlags>();
  bench::BenchConfig& c = flags->config;
  CLI::App* cmd = bench.add_subcommand("serve", "Benchmark an OpenAI-compatible server (streaming TTFT/TPOT/ITL/E2EL)");
  cmd->add_option("--base-url", c.base_url, "Server URL, http://host:port")->capture_default_str();
  cmd->add_option("--endpoint", c.endpoint, "/v1/completions or /v1/chat/completions")->capture_default_str();
  cmd->add_option("--model", c.model, "Model name sent in each request")->required();
  cmd->add_option("--tokenizer", flags->tokenizer_dir, "Model directory whose tokenizer sizes prompts exactly and cross-checks usage");
  cmd->add_option("--dataset", c.dataset.spec,
                  "random | chat | summarize | shared-prefix | jsonl:FILE | sharegpt:FILE")
      ->capture_default_str();
  cmd->add_option("--num-prompts", c.num_prompts, "Requests in the measured run")->capture_default_str();
  cmd->add_option("--max-concurrency", c.max_concurrency, "Most requests in flight at once (0 = unlimited)")
      ->capture_default_str();
  cmd->add_option("--request-rate", flags->request_rate, "Requests per second, or inf to send all at once")
      ->capture_default_str();
  cmd->add_option("--burstiness", flags->burstiness,
                  "Gamma shape of inter-arrival gaps: 1 = Poisson, <1 burstier, >1 smoother, inf = constant")
      ->capture_default_str();
  cmd->add_option("--input-len", c.dataset.input_len, "random: prompt tokens; shared-prefix: user-turn tokens")
      ->capture_default_str();
  cmd->add_option("--output-len", c.dataset.output_len, "Output tokens (random, shared-prefix, jsonl default)")
      ->capture_default_str();
  cmd->add_option("--range-ratio", c.dataset.range_ratio, "Lengths uniform in [len*(1-r), len*(1+r)]")
      ->capture_default_str();
  cmd->add_option("--prefix-len", c.dataset.prefix_len, "shared-prefix: system prompt tokens")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed for datasets and arrival times")->capture_default_str();
  cmd->add_flag("--ignore-eos", c.ignore_eos, "Send ignore_eos (vLLM) so every request generates its full length");
  cmd->add_option("--temperature", c.temperature, "Sampling temperature")->capture_default_str();
  cmd->add_option("--warmup", c.warmup, "Warmup requests before the measured run (excluded)")->capture_default_str();
  cmd->add_option("--goodput", flags->goodput, "SLOs in ms: ttft:MS tpot:MS e2el:MS")->expected(1, 3);
  cmd->add_option("--percentiles", flags->percentiles, "Percentiles to report, comma-separated")->capture_default_str();
  cmd->add_option("--save-result", flags->save_result, "Write the results as JSON to this file");
  cmd->add_flag("--save-detailed", flags->save_detailed, "Add per-request arrays to --save-result");
  cmd->add_option("--api-key", c.api_key, "Bearer token")->envname("OPENAI_API_KEY");
  cmd->add_option("--timeout", c.timeout_s, "Per-request timeout in seconds (0 = none)")->capture_default_str();
  cmd->callback([flags] { run(*flags); });
}

}  // namespace serval::cli
