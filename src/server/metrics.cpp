#include "server/metrics.h"

#include <charconv>
#include <cmath>

namespace serval {

namespace {

const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                                          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kRequestLatencyBuckets = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,  15.0, 20.0,
                                                    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

// Python repr of a float, as prometheus_client prints values: 3 -> "3.0", 0.25 -> "0.25".
std::string prom_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
    return std::string(buf, r.ptr) + ".0";
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip
  return std::string(buf, r.ptr);
}

std::string escape_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name + "{" + labels + "} " + prom_number(value) + "\n";
}

void gauge(std::string& out, const char* name, const char* help, const std::string& labels, double value) {
  header(out, name, "gauge", help);
  sample(out, name, labels, value);
}

// prometheus_client exposes counter `x` as TYPE x counter with a sample named x_total.
void counter(std::string& out, const char* name, const char* help, const std::string& labels, double value) {
  header(out, name, "counter", help);
  sample(out, std::string(name) + "_total", labels, value);
}

void histogram(std::string& out, const char* name, const char* help, const std::string& labels, const Histogram& h) {
  header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h.upper_bounds.size(); ++i) {
    cumulative += h.counts[i];
    std::string le = i < h.upper_bounds.size() ? prom_number(h.upper_bounds[i]) : "+Inf";
    sample(out, std::string(name) + "_bucket", labels + ",le=\"" + le + "\"", static_cast<double>(cumulative));
  }
  sample(out, std::string(name) + "_count", labels, static_cast<double>(h.count));
  sample(out, std::string(name) + "_sum", labels, h.sum);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : upper_bounds(std::move(bounds)), counts(upper_bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < upper_bounds.size() && value > upper_bounds[i]) ++i;  // le is inclusive
  ++counts[i];
  sum += value;
  ++count;
}

std::vector<double> buckets_1_2_5(int64_t max_value) {
  std::vector<double> out;
  for (int64_t base = 1;; base *= 10) {
    for (int64_t m : {1, 2, 5}) {
      if (m * base > max_value) return out;
      out.push_back(static_cast<double>(m * base));
    }
  }
}

MetricsRegistry::MetricsRegistry(std::string model_name, int max_model_len)
    : labels_("model_name=\"" + escape_label(model_name) + "\",engine=\"0\""),
      ttft_(kTtftBuckets),
      itl_(kItlBuckets),
      e2e_(kRequestLatencyBuckets),
      queue_(kRequestLatencyBuckets),
      prompt_tokens_(buckets_1_2_5(max_model_len)),
      generation_tokens_(buckets_1_2_5(max_model_len)),
      params_n_({1, 2, 5, 10, 20}),
      params_max_tokens_(buckets_1_2_5(max_model_len)) {}

void MetricsRegistry::observe_finished(FinishReason reason, int num_prompt_tokens, int num_generation_tokens,
                                       double e2e_latency_s) {
  std::lock_guard lock(mu_);
  switch (reason) {
    case FinishReason::Stop: ++success_stop_; break;
    case FinishReason::Length: ++success_length_; break;
    case FinishReason::Abort: ++success_abort_; break;
    default: return;
  }
  prompt_tokens_.observe(num_prompt_tokens);
  generation_tokens_.observe(num_generation_tokens);
  e2e_.observe(e2e_latency_s);
}

void MetricsRegistry::observe_ttft(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void MetricsRegistry::observe_inter_token_latency(double seconds) {
  std::lock_guard lock(mu_);
  itl_.observe(seconds);
}

void MetricsRegistry::observe_queue_time(double seconds) {
  std::lock_guard lock(mu_);
  queue_.observe(seconds);
}

void MetricsRegistry::observe_request_params(int n, int max_tokens) {
  std::lock_guard lock(mu_);
  params_n_.observe(n);
  params_max_tokens_.observe(max_tokens);
}

std::string MetricsRegistry::render(const EngineStats& s) const {
  std::string out;
  out.reserve(16384);
  const std::string& l = labels_;
  gauge(out, "vllm:num_requests_running", "Number of requests in model execution batches.", l, s.num_requests_running);
  gauge(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", l, s.num_requests_waiting);
  gauge(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", l, s.kv_cache_usage);
  counter(out, "vllm:prefix_cache_queries",
          "Prefix cache queries, in terms of number of queried tokens.", l,
          static_cast<double>(s.prefix_cache_queries));
  counter(out, "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", l,
          static_cast<double>(s.prefix_cache_hits));
  counter(out, "vllm:num_preemptions", "Cumulative number of preemption from the engine.", l,
          static_cast<double>(s.num_preemptions));
  counter(out, "vllm:prompt_tokens", "Number of prefill tokens processed.", l, static_cast<double>(s.prompt_tokens));
  counter(out, "vllm:generation_tokens", "Number of generation tokens processed.", l,
          static_cast<double>(s.generation_tokens));

  std::lock_guard lock(mu_);
  header(out, "vllm:request_success", "counter", "Count of successfully processed requests.");
  sample(out, "vllm:request_success_total", l + ",finished_reason=\"stop\"", static_cast<double>(success_stop_));
  sample(out, "vllm:request_success_total", l + ",finished_reason=\"length\"", static_cast<double>(success_length_));
  sample(out, "vllm:request_success_total", l + ",finished_reason=\"abort\"", static_cast<double>(success_abort_));
  histogram(out, "vllm:request_prompt_tokens", "Number of prefill tokens processed.", l, prompt_tokens_);
  histogram(out, "vllm:request_generation_tokens", "Number of generation tokens processed.", l, generation_tokens_);
  histogram(out, "vllm:request_params_n", "Histogram of the n request parameter.", l, params_n_);
  histogram(out, "vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", l,
            params_max_tokens_);
  histogram(out, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", l, ttft_);
  histogram(out, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", l, itl_);
  histogram(out, "vllm:time_per_output_token_seconds",
            "Histogram of time per output token in seconds.DEPRECATED: Use vllm:inter_token_latency_seconds instead.",
            l, itl_);
  histogram(out, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", l, e2e_);
  histogram(out, "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.", l, queue_);
  return out;
}

}  // namespace serval
