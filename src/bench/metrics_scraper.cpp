// MetricsScraper (see metrics_scraper.h).
#include "bench/metrics_scraper.h"

#include <algorithm>
#include <chrono>

#include "bench/http_get.h"

namespace serval::bench {

namespace {

void take_max(std::optional<double>& slot, std::optional<double> v) {
  if (v) slot = slot ? std::max(*slot, *v) : *v;
}

// prometheus_client exposes counter x as the sample x_total; accept both spellings.
std::optional<double> counter(const std::vector<PromSample>& s, const std::string& name) {
  return prom_sum_any(s, {name + "_total", name});
}

std::optional<double> delta(const std::vector<PromSample>& before, const std::vector<PromSample>& after,
                            const std::string& name) {
  const auto a = counter(after, name);
  if (!a) return std::nullopt;
  return *a - counter(before, name).value_or(0.0);
}

}  // namespace

void observe_gauges(ServerMetrics& m, const std::vector<PromSample>& samples) {
  // vLLM < 0.10 spelled KV usage gpu_cache_usage_perc.
  take_max(m.kv_cache_usage_max, prom_sum_any(samples, {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}));
  take_max(m.num_requests_waiting_max, prom_sum(samples, "vllm:num_requests_waiting"));
  take_max(m.num_requests_running_max, prom_sum(samples, "vllm:num_requests_running"));
}

void observe_counters(ServerMetrics& m, const std::vector<PromSample>& before, const std::vector<PromSample>& after) {
  m.num_preemptions = delta(before, after, "vllm:num_preemptions");
  m.prefix_cache_hits = delta(before, after, "vllm:prefix_cache_hits");
  m.prefix_cache_queries = delta(before, after, "vllm:prefix_cache_queries");
  if (m.prefix_cache_hits && m.prefix_cache_queries && *m.prefix_cache_queries > 0)
    m.prefix_cache_hit_rate = *m.prefix_cache_hits / *m.prefix_cache_queries;
}

MetricsScraper::MetricsScraper(std::string base_url, double interval_s)
    : base_url_(std::move(base_url)), interval_s_(interval_s) {
  baseline_ = scrape();
  if (baseline_) observe_gauges(metrics_, *baseline_);
  thread_ = std::thread([this] { poll_loop(); });
}

MetricsScraper::~MetricsScraper() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::vector<PromSample>> MetricsScraper::scrape() {
  const HttpGetResult r = http_get(base_url_, "/metrics", std::max(1.0, interval_s_ * 4));
  std::lock_guard<std::mutex> lock(mutex_);
  if (r.status != 200) {
    ++metrics_.scrape_errors;
    if (metrics_.first_error.empty())
      metrics_.first_error = r.status == 0 ? r.error : "GET /metrics answered HTTP " + std::to_string(r.status);
    return std::nullopt;
  }
  ++metrics_.num_scrapes;
  return parse_prometheus_text(r.body);
}

void MetricsScraper::poll_loop() {
  const auto interval = std::chrono::duration<double>(interval_s_);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (stop_cv_.wait_for(lock, interval, [this] { return stop_; })) return;
    }
    if (auto samples = scrape()) {
      std::lock_guard<std::mutex> lock(mutex_);
      observe_gauges(metrics_, *samples);
    }
  }
}

ServerMetrics MetricsScraper::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (auto after = scrape()) {
    observe_gauges(metrics_, *after);
    if (baseline_) observe_counters(metrics_, *baseline_, *after);
  }
  return metrics_;
}

}  // namespace serval::bench
