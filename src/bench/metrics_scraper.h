// MetricsScraper: reads a server's Prometheus /metrics during one sweep cell — a baseline before, a poll
// every interval while the cell runs (gauge maxima), a final read after (counter deltas) — and
// summarizes KV usage, the waiting queue, preemptions and the prefix-cache hit rate (vLLM v0.11 names).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/prometheus_text.h"

namespace serval::bench {

struct ServerMetrics {
  int num_scrapes = 0;                              // successful reads of /metrics
  int scrape_errors = 0;                            // failed reads (non-200, refused, timeout)
  std::string first_error;                          // the first failure, one line
  std::optional<double> kv_cache_usage_max;         // max of vllm:kv_cache_usage_perc (0..1) over the polls
  std::optional<double> num_requests_waiting_max;   // max of vllm:num_requests_waiting
  std::optional<double> num_requests_running_max;   // max of vllm:num_requests_running
  std::optional<double> num_preemptions;            // delta of vllm:num_preemptions_total over the cell
  std::optional<double> prefix_cache_hits;          // delta of vllm:prefix_cache_hits_total (tokens)
  std::optional<double> prefix_cache_queries;       // delta of vllm:prefix_cache_queries_total (tokens)
  std::optional<double> prefix_cache_hit_rate;      // hits / queries over the cell (absent when no queries)
};

// Folds one scrape into `m` (gauges: max). Counters are handled by finish().
void observe_gauges(ServerMetrics& m, const std::vector<PromSample>& samples);
// Counter deltas and the hit rate between a baseline and a final scrape.
void observe_counters(ServerMetrics& m, const std::vector<PromSample>& before, const std::vector<PromSample>& after);

class MetricsScraper {
 public:
  // Takes the baseline scrape now, then polls every interval_s on a background thread.
  MetricsScraper(std::string base_url, double interval_s);
  ~MetricsScraper();
  MetricsScraper(const MetricsScraper&) = delete;
  MetricsScraper& operator=(const MetricsScraper&) = delete;

  // Stops polling, takes the final scrape, and returns the summary. Call once.
  ServerMetrics finish();

 private:
  std::optional<std::vector<PromSample>> scrape();  // records errors; nullopt on failure
  void poll_loop();

  std::string base_url_;
  double interval_s_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  ServerMetrics metrics_;
  std::optional<std::vector<PromSample>> baseline_;
  std::thread thread_;
};

}  // namespace serval::bench
