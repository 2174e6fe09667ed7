// `serval bench sweep`: run_bench over a grid (concurrency x max_tokens, or request rate x max_tokens)
// against one server; prints a table and writes the CSV, the JSON and the HTML report (docs/MEASURING.md).
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "bench/sweep.h"
#include "bench/sweep_report.h"
#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace serval::cli {

namespace {

struct SweepFlags {
  bench::SweepConfig sweep;
  std::string concurrency = "1,4,8,16,32";
  std::string max_tokens = "64,128,256";
  std::string request_rates;
  std::string burstiness = "1";
  std::vector<std::string> goodput;
  std::string tokenizer_dir;
  std::string output_csv;
  std::string output_json;
  std::string html;
};

void run(SweepFlags& f) {
  bench::SweepConfig& s = f.sweep;
  bench::BenchConfig& c = s.base;
  s.max_tokens = bench::parse_int_list(f.max_tokens, "--max-tokens");
  if (!f.request_rates.empty()) s.request_rates = bench::parse_double_list(f.request_rates, "--request-rates");
  else s.concurrencies = bench::parse_int_list(f.concurrency, "--concurrency");
  c.burstiness = bench::parse_rate(f.burstiness, "--burstiness");
  c.goodput = bench::parse_goodput(f.goodput);
  c.tokenizer_id = f.tokenizer_dir;
  if (!f.tokenizer_dir.empty()) {
    auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(f.tokenizer_dir));
    c.token_counter = [tokenizer](std::string_view text, bool add_special_tokens) {
      return static_cast<int>(tokenizer->encode(text, add_special_tokens).size());
    };
  }
  c.show_progress = isatty(STDERR_FILENO) == 1;
  bench::validate(c);

  const bench::SweepResult result = bench::run_sweep(s, [&](size_t i, size_t n, const bench::SweepCell& cell) {
    const std::string outer = cell.request_rate ? std::to_string(*cell.request_rate) + " req/s"
                                                : "concurrency " + std::to_string(cell.concurrency);
    std::fprintf(stderr, "[%zu/%zu] %s, max_tokens %d: %.1f output tok/s, p95 TTFT %.1f ms, %d errors\n", i + 1, n,
                 outer.c_str(), cell.max_tokens, cell.result.output_throughput,
                 bench::metric_at(cell.result, "ttft", 95), cell.result.failed);
  });
  const nlohmann::ordered_json j = bench::sweep_json(result);
  std::fputs(bench::format_sweep_table(j).c_str(), stdout);
  std::fflush(stdout);
  if (!f.output_csv.empty()) {
    bench::write_text_file(f.output_csv, bench::sweep_csv(j));
    std::fprintf(stderr, "wrote %s\n", f.output_csv.c_str());
  }
  if (!f.output_json.empty()) {
    bench::write_text_file(f.output_json, j.dump(2) + "\n");
    std::fprintf(stderr, "wrote %s\n", f.output_json.c_str());
  }
  if (!f.html.empty()) {
    bench::write_text_file(f.html, bench::render_html_report(j));
    std::fprintf(stderr, "wrote %s\n", f.html.c_str());
  }
  int completed = 0, failed = 0;
  std::string first_error;
  for (const bench::SweepCell& cell : result.cells) {
    completed += cell.result.completed;
    failed += cell.result.failed;
    if (first_error.empty() && !cell.result.errors.empty()) first_error = cell.result.errors.front().first;
  }
  check(completed > 0, "all " + std::to_string(failed) + " requests of the sweep failed (first error: " +
                           (first_error.empty() ? std::string("none") : first_error) + ")");
}

}  // namespace

void add_bench_sweep_command(CLI::App& bench) {
  auto f = std::make_shared<SweepFlags>();
  bench::SweepConfig& s = f->sweep;
  bench::BenchConfig& c = s.base;
  c.dataset.spec = "chat";
  CLI::App* cmd = bench.add_subcommand("sweep", "Capacity grid: bench serve per (concurrency or rate) x max_tokens cell");
  cmd->add_option("--base-url", c.base_url, "Server URL, http://host:port")->capture_default_str();
  cmd->add_option("--endpoint", c.endpoint, "/v1/completions or /v1/chat/completions")->capture_default_str();
  cmd->add_option("--model", c.model, "Model name sent in each request")->required();
  cmd->add_option("--label", s.label, "Device / configuration label written in every row (e.g. h100-util0.9)");
  cmd->add_option("--concurrency", f->concurrency, "Concurrency levels (closed loop), comma-separated")
      ->capture_default_str();
  cmd->add_option("--max-tokens", f->max_tokens, "Output tokens requested per cell, comma-separated")
      ->capture_default_str();
  cmd->add_option("--request-rates", f->request_rates, "Request rates (req/s) instead of --concurrency, comma-separated");
  cmd->add_option("--max-concurrency", c.max_concurrency, "With --request-rates: a concurrency cap (0 = none)")
      ->capture_default_str();
  cmd->add_option("--burstiness", f->burstiness, "With --request-rates: gamma shape (1 = Poisson, inf = constant)")
      ->capture_default_str();
  cmd->add_option("--num-prompts", s.num_prompts, "Requests per cell (0 = max(16, 4 x concurrency) or max(16, 20 s x rate))")
      ->capture_default_str();
  cmd->add_option("--dataset", c.dataset.spec, "chat | summarize | random | shared-prefix | jsonl:FILE | sharegpt:FILE")
      ->capture_default_str();
  cmd->add_option("--tokenizer", f->tokenizer_dir, "Model directory whose tokenizer sizes prompts and cross-checks usage");
  cmd->add_option("--input-len", c.dataset.input_len, "random: prompt tokens; shared-prefix: user-turn tokens")
      ->capture_default_str();
  cmd->add_option("--range-ratio", c.dataset.range_ratio, "Prompt lengths uniform in [len*(1-r), len*(1+r)]")
      ->capture_default_str();
  cmd->add_option("--prefix-len", c.dataset.prefix_len, "shared-prefix: system prompt tokens")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed for datasets and arrival times")->capture_default_str();
  cmd->add_flag("--ignore-eos", c.ignore_eos, "Send ignore_eos (vLLM) so every request generates max_tokens");
  cmd->add_option("--temperature", c.temperature, "Sampling temperature")->capture_default_str();
  cmd->add_option("--warmup", c.warmup, "Warmup requests before each cell (excluded)")->capture_default_str();
  cmd->add_option("--goodput", f->goodput, "SLOs in ms: ttft:MS tpot:MS e2el:MS (also marks the sweet spot)")->expected(1, 3);
  cmd->add_option("--slo-percentile", s.slo_percentile, "Percentile the SLOs are checked at")->capture_default_str();
  cmd->add_flag("--scrape-metrics", s.scrape_metrics, "Read the server's Prometheus /metrics during each cell");
  cmd->add_option("--scrape-interval", s.scrape_interval_s, "Seconds between /metrics reads")->capture_default_str();
  cmd->add_option("--output-csv", f->output_csv, "Write one CSV row per cell to this file");
  cmd->add_option("--output-json", f->output_json, "Write every cell's results as JSON (input of bench report)");
  cmd->add_option("--html", f->html, "Write the self-contained HTML report to this file");
  cmd->add_option("--api-key", c.api_key, "Bearer token")->envname("OPENAI_API_KEY");
  cmd->add_option("--timeout", c.timeout_s, "Per-request timeout in seconds (0 = none)")->capture_default_str();
  cmd->callback([f] { run(*f); });
}

}  // namespace serval::cli
