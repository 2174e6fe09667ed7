// bench probe: cold vs warm time to first token. Each probe sends a prompt with a never-seen prefix
// (cold: nothing of it can be in the server's prefix cache), then the same prompt again (warm), one
// request at a time on a kept-alive connection; reports p50/p95 of both and their ratio. With a server
// start command (launch mode) it also starts the server, times it to /health 200, takes the first
// request after start as cold and N repeats as warm, and stops the server.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_config.h"
#include "bench/metrics.h"

namespace serval::bench {

struct ProbeConfig {
  BenchConfig base;       // target (base_url, endpoint, model, api_key, timeout_s), seed, temperature
  int num_probes = 5;     // cold/warm pairs
  int warm_repeats = 1;   // warm requests after each cold one
  int prompt_len = 512;   // prompt tokens (approximate without a tokenizer): long enough for prefill to show
  int max_tokens = 16;    // output tokens per request
};

struct ProbeResult {
  Distribution cold_ttft_ms, warm_ttft_ms, cold_e2el_ms, warm_e2el_ms;
  double ttft_ratio = 0;  // median cold TTFT / median warm TTFT (0 when either is missing)
  int completed = 0;
  int failed = 0;
  std::vector<std::pair<std::string, int>> errors;  // message -> count, most frequent first
  std::vector<double> cold_ttfts_ms, warm_ttfts_ms;  // per request, in send order
};

// Throws serval::Error for a bad configuration; request failures are counted, not thrown.
ProbeResult run_probe(const ProbeConfig& config);

// Launch mode: the server is started by `/bin/sh -c server_cmd` in its own process group.
struct LaunchConfig {
  std::string server_cmd;
  std::string log_path;          // the server's stdout+stderr; empty = a file in the temp directory
  int num_warm = 5;              // warm requests (the cold prompt again) after the cold one
  double ready_timeout_s = 300;  // process start -> GET /health 200
  double poll_interval_s = 0.02;
  double stop_grace_s = 10;      // SIGINT, then SIGKILL to the process group after this long
};

struct LaunchProbeResult {
  std::string log_path;
  double time_to_ready_s = 0;  // posix_spawn -> first /health 200
  int health_polls = 0;
  double cold_ttft_ms = -1, cold_e2el_ms = -1;  // the first request after ready; -1 when it failed
  Distribution warm_ttft_ms, warm_e2el_ms;
  std::vector<double> warm_ttfts_ms, warm_e2els_ms;
  double ttft_ratio = 0, e2el_ratio = 0;  // cold / median warm (0 when either is missing)
  int completed = 0;
  int failed = 0;
  std::vector<std::pair<std::string, int>> errors;
  int server_exit_code = -1;  // exit status, or 128 + signal number
  bool server_killed = false; // needed SIGKILL after the grace period
  double stop_s = 0;          // SIGINT -> process group gone
};

// Throws serval::Error (naming the command and the log's last lines) when the server exits before it is
// ready or is not ready within ready_timeout_s; the server is always stopped before returning.
LaunchProbeResult run_launched_probe(const ProbeConfig& config, const LaunchConfig& launch);
nlohmann::ordered_json launched_probe_json(const LaunchProbeResult& result, const ProbeConfig& config,
                                           const LaunchConfig& launch);
std::string format_launched_probe(const LaunchProbeResult& result);

nlohmann::ordered_json probe_json(const ProbeResult& result, const ProbeConfig& config);
std::string format_probe(const ProbeResult& result);

}  // namespace serval::bench
