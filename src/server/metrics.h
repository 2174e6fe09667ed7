// MetricsRegistry: the Prometheus text exposition behind GET /metrics, with vLLM v0.11's metric names,
// HELP strings, bucket boundaries and {model_name, engine} labels. Server-measured latencies
// (TTFT, ITL, E2E) are observed here; engine counters and gauges come from an EngineStats snapshot.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine_client.h"
#include "engine/engine_request.h"

namespace serval {

// Cumulative Prometheus histogram; not thread-safe by itself (the registry locks).
struct Histogram {
  std::vector<double> upper_bounds;  // finite bucket bounds, ascending; +Inf is implicit
  std::vector<uint64_t> counts;      // per bucket (non-cumulative), size upper_bounds.size() + 1
  double sum = 0.0;
  uint64_t count = 0;

  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
};

// vLLM's 1-2-5 token-count buckets up to max_value: 1, 2, 5, 10, 20, 50, ...
std::vector<double> buckets_1_2_5(int64_t max_value);

class MetricsRegistry {
 public:
  MetricsRegistry(std::string model_name, int max_model_len);

  // One finished sequence (one engine request). Abort counts as finished_reason="abort";
  // Error is not a success and is not counted.
  void observe_finished(FinishReason reason, int num_prompt_tokens, int num_generation_tokens,
                        double e2e_latency_s);
  void observe_ttft(double seconds);
  void observe_inter_token_latency(double seconds);
  void observe_queue_time(double seconds);  // arrival -> first scheduled (RequestOutput::queue_time_s)
  void observe_request_params(int n, int max_tokens);

  // Prometheus text format 0.0.4 (what prometheus_client serves).
  std::string render(const EngineStats& stats) const;

 private:
  std::string labels_;  // model_name="...",engine="0"
  mutable std::mutex mu_;
  uint64_t success_stop_ = 0, success_length_ = 0, success_abort_ = 0;
  Histogram ttft_, itl_, e2e_, queue_, prompt_tokens_, generation_tokens_, params_n_, params_max_tokens_;
};

}  // namespace serval
