// BenchConfig: everything one `bench serve` run needs (target, load shape, dataset, metrics options),
// validated in one place. `bench sweep` will build one BenchConfig per grid cell and call run_bench.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace serval::bench {

// Counts tokens of a text with the served model's tokenizer (a local copy); empty when none is given.
// add_special_tokens: as HF's encode (BOS etc.), which is what a server counts for a completions prompt.
using TokenCounter = std::function<int(std::string_view text, bool add_special_tokens)>;

struct DatasetConfig {
  std::string spec = "random";  // random | chat | summarize | shared-prefix | jsonl:FILE | sharegpt:FILE
  int input_len = 1024;         // random: prompt tokens; shared-prefix: user-turn tokens
  int output_len = 128;         // random, shared-prefix, and jsonl lines without output_len
  double range_ratio = 0.0;     // lengths uniform in [len*(1-r), len*(1+r)], 0 <= r < 1 (vLLM >= 0.8.4)
  int prefix_len = 1024;        // shared-prefix: tokens of the common system prompt
  int max_tokens = 0;           // > 0: every sample requests exactly this many output tokens (bench sweep's axis)
};

// Service-level objectives for goodput, in milliseconds; unset ones are not checked.
struct GoodputSlo {
  std::optional<double> ttft_ms;
  std::optional<double> tpot_ms;
  std::optional<double> e2el_ms;
  bool any() const { return ttft_ms || tpot_ms || e2el_ms; }
};

struct BenchConfig {
  std::string base_url = "http://127.0.0.1:8000";  // scheme://host[:port][/prefix], http only
  std::string endpoint = "/v1/completions";         // or /v1/chat/completions
  std::string model;                                // the `model` field sent to the server (required)
  std::string api_key;                              // sent as `Authorization: Bearer KEY` when set
  DatasetConfig dataset;
  int num_prompts = 1000;
  int max_concurrency = 0;                                          // 0 = unlimited
  double request_rate = std::numeric_limits<double>::infinity();    // req/s; inf = all at t=0
  double burstiness = 1.0;   // gamma shape: 1 = Poisson, <1 burstier, >1 smoother, inf = constant spacing
  bool ignore_eos = false;   // vLLM's extra sampling parameter
  double temperature = 0.0;
  int warmup = 0;            // requests sent (and awaited) before the measured run, never counted
  uint64_t seed = 0;
  double timeout_s = 600.0;  // per request, from send to end of stream; 0 = none
  GoodputSlo goodput;
  std::vector<double> percentiles = {50, 90, 95, 99};
  bool keep_text = false;    // keep generated texts (for --save-detailed and the tokenizer cross-check)
  bool show_progress = false;  // live progress line on stderr
  TokenCounter token_counter;  // optional local tokenizer: exact prompt lengths and a usage cross-check
  std::string tokenizer_id;    // echoed in results (the --tokenizer path)
};

// Throws serval::Error naming the first invalid field.
void validate(const BenchConfig& config);

// Parses "ttft:500 tpot:50 e2el:10000" items (one per element). Throws serval::Error on a bad item.
GoodputSlo parse_goodput(const std::vector<std::string>& items);
// Parses "50,90,95,99" (each in (0, 100]). Throws serval::Error on a bad value.
std::vector<double> parse_percentiles(const std::string& text);
// Parses a rate: a positive number or "inf". Throws serval::Error naming `flag` otherwise.
double parse_rate(const std::string& text, const std::string& flag);

// "p99", "p99.9": vLLM's key spelling for a percentile.
std::string percentile_key(double p);

}  // namespace serval::bench
