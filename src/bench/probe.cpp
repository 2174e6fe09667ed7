// bench probe (see probe.h).
#include "bench/probe.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>

#include "bench/datasets/dataset.h"
#include "bench/run_bench.h"
#include "bench/stream_client.h"
#include "core/error.h"

namespace serval::bench {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

ProbeResult run_probe(const ProbeConfig& config) {
  check(config.num_probes >= 1, "--num-probes must be >= 1, got " + std::to_string(config.num_probes));
  check(config.warm_repeats >= 1, "--warm-repeats must be >= 1, got " + std::to_string(config.warm_repeats));
  check(config.prompt_len >= 1, "--prompt-len must be >= 1, got " + std::to_string(config.prompt_len));
  check(config.max_tokens >= 1, "--max-tokens must be >= 1, got " + std::to_string(config.max_tokens));
  BenchConfig c = config.base;
  c.num_prompts = config.num_probes;
  c.dataset.spec = "random";
  c.dataset.input_len = config.prompt_len;
  c.dataset.range_ratio = 0;
  c.dataset.max_tokens = config.max_tokens;
  validate(c);

  // A nonce per run and per probe at the very start of the prompt: no earlier run (and no other probe)
  // shares even the first block, so the cold request cannot hit the prefix cache.
  const uint64_t nonce = std::random_device{}() ^
                         static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::vector<BenchSample> samples = load_samples(c.dataset, config.num_probes, c.seed, c.token_counter);
  std::vector<ClientRequest> requests;
  BenchSample primer;  // primes the connection (excluded), so no measured request pays for the connect
  primer.prompt = "probe " + hex(nonce) + " connect";
  primer.output_len = 1;
  requests.push_back({request_body(c, primer), 0.0});
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i].prompt = "[probe " + hex(nonce) + "-" + std::to_string(i) + "] " + samples[i].prompt;
    const std::string body = request_body(c, samples[i]);
    for (int k = 0; k <= config.warm_repeats; ++k) requests.push_back({body, 0.0});
  }

  ClientOptions options;
  options.target = parse_http_target(c.base_url, c.endpoint);
  options.api_key = c.api_key;
  options.max_concurrency = 1;  // one at a time, in order (slots are handed out FIFO)
  options.timeout_s = c.timeout_s;
  options.progress_label = "probe";
  const ClientRunResult run = run_streams(options, requests);

  ProbeResult r;
  std::vector<double> cold_e2el, warm_e2el;
  std::map<std::string, int> errors;
  const size_t per_probe = static_cast<size_t>(config.warm_repeats) + 1;
  for (size_t i = 1; i < run.records.size(); ++i) {
    const RequestRecord& rec = run.records[i];
    const bool cold = (i - 1) % per_probe == 0;
    if (!rec.success || rec.first_chunk_s < 0) {
      ++r.failed;
      ++errors[rec.success ? std::string("no content chunk") : rec.error];
      continue;
    }
    ++r.completed;
    const double ttft = (rec.first_chunk_s - rec.start_s) * 1e3;
    const double e2el = (rec.last_chunk_s - rec.start_s) * 1e3;
    (cold ? r.cold_ttfts_ms : r.warm_ttfts_ms).push_back(ttft);
    (cold ? cold_e2el : warm_e2el).push_back(e2el);
  }
  const std::vector<double> percentiles = {50, 95};
  r.cold_ttft_ms = summarize(r.cold_ttfts_ms, percentiles);
  r.warm_ttft_ms = summarize(r.warm_ttfts_ms, percentiles);
  r.cold_e2el_ms = summarize(cold_e2el, percentiles);
  r.warm_e2el_ms = summarize(warm_e2el, percentiles);
  if (r.cold_ttft_ms.count > 0 && r.warm_ttft_ms.count > 0 && r.warm_ttft_ms.median > 0)
    r.ttft_ratio = r.cold_ttft_ms.median / r.warm_ttft_ms.median;
  for (const auto& [message, count] : errors) r.errors.emplace_back(message, count);
  std::sort(r.errors.begin(), r.errors.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return r;
}

nlohmann::ordered_json probe_json(const ProbeResult& r, const ProbeConfig& config) {
  auto stats = [](const Distribution& d) {
    nlohmann::ordered_json j;
    j["count"] = d.count;
    j["mean"] = d.mean;
    j["median"] = d.median;
    for (const auto& [p, v] : d.percentiles) j[percentile_key(p)] = v;
    j["min"] = d.min;
    j["max"] = d.max;
    j["spread"] = d.max - d.min;
    return j;
  };
  nlohmann::ordered_json j;
  j["tool"] = "serval bench probe";
  j["base_url"] = config.base.base_url;
  j["endpoint"] = config.base.endpoint;
  j["model_id"] = config.base.model;
  j["num_probes"] = config.num_probes;
  j["warm_repeats"] = config.warm_repeats;
  j["prompt_len"] = config.prompt_len;
  j["max_tokens"] = config.max_tokens;
  j["completed"] = r.completed;
  j["failed"] = r.failed;
  j["cold_ttft_ms"] = stats(r.cold_ttft_ms);
  j["warm_ttft_ms"] = stats(r.warm_ttft_ms);
  j["cold_e2el_ms"] = stats(r.cold_e2el_ms);
  j["warm_e2el_ms"] = stats(r.warm_e2el_ms);
  j["ttft_cold_warm_ratio"] = r.ttft_ratio;
  j["cold_ttfts_ms"] = r.cold_ttfts_ms;
  j["warm_ttfts_ms"] = r.warm_ttfts_ms;
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (const auto& [message, count] : r.errors) errors.push_back({{"message", message}, {"count", count}});
  j["errors"] = errors;
  return j;
}

std::string format_probe(const ProbeResult& r) {
  char buf[256];
  std::string out = "=========== Cold vs warm TTFT ===========\n";
  auto line = [&](const char* name, const Distribution& d) {
    double p95 = 0;
    for (const auto& [p, v] : d.percentiles)
      if (p == 95) p95 = v;
    std::snprintf(buf, sizeof buf, "%-10s n=%-4zu p50 %9.2f ms  p95 %9.2f ms  min %9.2f  max %9.2f\n", name, d.count,
                  d.median, p95, d.min, d.max);
    out += buf;
  };
  line("cold TTFT", r.cold_ttft_ms);
  line("warm TTFT", r.warm_ttft_ms);
  line("cold E2EL", r.cold_e2el_ms);
  line("warm E2EL", r.warm_e2el_ms);
  std::snprintf(buf, sizeof buf, "TTFT cold/warm ratio (p50): %.2fx\nfailed requests: %d\n", r.ttft_ratio, r.failed);
  out += buf;
  for (const auto& [message, count] : r.errors) out += "  " + std::to_string(count) + " x " + message + "\n";
  return out;
}

}  // namespace serval::bench
