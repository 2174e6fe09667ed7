// Console summary and result JSON (see report.h).
#include "bench/report.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace serval::bench {

namespace {

std::string centered(const std::string& title, char fill) {
  const int width = 50;
  const int pad = width - static_cast<int>(title.size());
  if (pad <= 0) return title;
  return std::string(pad / 2, fill) + title + std::string(pad - pad / 2, fill);
}

void row(std::ostringstream& out, const std::string& label, const std::string& value) {
  std::string l = label;
  if (l.size() < 40) l.resize(40, ' ');
  out << l << " " << value << "\n";
}

std::string fixed(double v, int digits = 2) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

std::string pct_label(double p) {
  std::string key = percentile_key(p);  // "p99"
  key[0] = 'P';
  return key;
}

void stats_block(std::ostringstream& out, const std::string& title, const std::string& name, const std::string& unit,
                 const Distribution& d) {
  out << centered(title, '-') << "\n";
  row(out, "Mean " + name + " (" + unit + "):", fixed(d.mean));
  row(out, "Median " + name + " (" + unit + "):", fixed(d.median));
  for (const auto& [p, v] : d.percentiles)
    if (p != 50) row(out, pct_label(p) + " " + name + " (" + unit + "):", fixed(v));  // P50 is the median
}

void stats_json(nlohmann::ordered_json& j, const std::string& name, const std::string& suffix, const Distribution& d) {
  j["mean_" + name + suffix] = d.mean;
  j["median_" + name + suffix] = d.median;
  j["std_" + name + suffix] = d.std;
  for (const auto& [p, v] : d.percentiles) j[percentile_key(p) + "_" + name + suffix] = v;
}

std::string now_string() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

nlohmann::json rate_json(double rate) { return std::isinf(rate) ? nlohmann::json("inf") : nlohmann::json(rate); }

}  // namespace

std::string format_summary(const BenchResult& r, const BenchConfig& c) {
  std::ostringstream out;
  out << centered(" Serving Benchmark Result ", '=') << "\n";
  row(out, "Successful requests:", std::to_string(r.completed));
  row(out, "Failed requests:", std::to_string(r.failed));
  if (c.max_concurrency > 0) row(out, "Maximum request concurrency:", std::to_string(c.max_concurrency));
  row(out, "Request rate configured (RPS):", std::isinf(c.request_rate) ? "inf" : fixed(c.request_rate));
  row(out, "Benchmark duration (s):", fixed(r.duration_s));
  row(out, "Total input tokens:", std::to_string(r.total_input_tokens));
  row(out, "Total generated tokens:", std::to_string(r.total_output_tokens));
  row(out, "Request throughput (req/s):", fixed(r.request_throughput));
  if (r.request_goodput) {
    row(out, "Request goodput (req/s):", fixed(*r.request_goodput));
    row(out, "Good request fraction:", fixed(r.good_request_fraction, 4));
  }
  row(out, "Output token throughput (tok/s):", fixed(r.output_throughput));
  row(out, "Peak output token throughput (tok/s):", fixed(r.max_output_tokens_per_s));
  row(out, "Peak concurrent requests:", std::to_string(r.max_concurrent_requests));
  row(out, "Total Token throughput (tok/s):", fixed(r.total_token_throughput));
  stats_block(out, "Time to First Token", "TTFT", "ms", r.ttft_ms);
  stats_block(out, "Time per Output Token (excl. 1st token)", "TPOT", "ms", r.tpot_ms);
  stats_block(out, "Inter-token Latency", "ITL", "ms", r.itl_ms);
  stats_block(out, "End-to-end Latency", "E2EL", "ms", r.e2el_ms);
  stats_block(out, "Per-user decode speed (PNN = slowest)", "tok/s/user", "tok/s", r.output_tps_per_user);
  stats_block(out, "Client schedule lag (released - scheduled)", "lag", "ms", r.schedule_lag_ms);
  row(out, "Max schedule lag (ms):", fixed(r.schedule_lag_ms.max));
  if (c.max_concurrency > 0) {
    row(out, "Mean concurrency-slot wait (ms):", fixed(r.slot_wait_ms.mean));
    row(out, "Max concurrency-slot wait (ms):", fixed(r.slot_wait_ms.max));
  }
  row(out, "Client CPU per output token (us):", fixed(r.client_cpu_us_per_token));
  if (r.usage_missing > 0) row(out, "Requests without usage (counted locally):", std::to_string(r.usage_missing));
  if (r.token_check) {
    row(out, "Tokenizer check: requests compared:", std::to_string(r.token_check->requests_checked));
    row(out, "Tokenizer check: output mismatches:", std::to_string(r.token_check->output_token_mismatches));
    if (c.endpoint == "/v1/completions")
      row(out, "Tokenizer check: prompt mismatches:", std::to_string(r.token_check->prompt_token_mismatches));
  }
  if (r.client_degraded)
    out << "WARNING: p99 schedule lag " << fixed(r.schedule_lag_p99_ms)
        << " ms: the client could not keep to the schedule; these numbers describe the client as much as the server\n";
  if (!r.errors.empty()) {
    out << centered("Errors", '-') << "\n";
    for (const auto& [message, count] : r.errors) out << "  " << count << " x " << message << "\n";
  }
  out << std::string(50, '=') << "\n";
  return out.str();
}

nlohmann::ordered_json result_json(const BenchResult& r, const BenchConfig& c, bool detailed) {
  nlohmann::ordered_json j;
  j["date"] = now_string();
  j["endpoint_type"] = c.endpoint == "/v1/chat/completions" ? "openai-chat" : "openai";
  j["backend"] = j["endpoint_type"];
  j["label"] = nullptr;
  j["model_id"] = c.model;
  j["tokenizer_id"] = c.tokenizer_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.tokenizer_id);
  j["num_prompts"] = c.num_prompts;
  j["request_rate"] = rate_json(c.request_rate);
  j["burstiness"] = rate_json(c.burstiness);
  j["max_concurrency"] = c.max_concurrency > 0 ? nlohmann::json(c.max_concurrency) : nlohmann::json(nullptr);
  j["duration"] = r.duration_s;
  j["completed"] = r.completed;
  j["failed"] = r.failed;
  j["total_input_tokens"] = r.total_input_tokens;
  j["total_output_tokens"] = r.total_output_tokens;
  j["request_throughput"] = r.request_throughput;
  j["request_goodput"] = r.request_goodput ? nlohmann::json(*r.request_goodput) : nlohmann::json(nullptr);
  j["output_throughput"] = r.output_throughput;
  j["total_token_throughput"] = r.total_token_throughput;
  j["max_output_tokens_per_s"] = r.max_output_tokens_per_s;
  j["max_concurrent_requests"] = r.max_concurrent_requests;
  stats_json(j, "ttft", "_ms", r.ttft_ms);
  stats_json(j, "tpot", "_ms", r.tpot_ms);
  stats_json(j, "itl", "_ms", r.itl_ms);
  stats_json(j, "e2el", "_ms", r.e2el_ms);
  // serval's own fields below.
  j["good_requests"] = r.good_requests;
  j["good_request_fraction"] = r.good_request_fraction;
  stats_json(j, "output_tps_per_user", "", r.output_tps_per_user);
  stats_json(j, "schedule_lag", "_ms", r.schedule_lag_ms);
  j["max_schedule_lag_ms"] = r.schedule_lag_ms.max;
  j["client_degraded"] = r.client_degraded;
  stats_json(j, "slot_wait", "_ms", r.slot_wait_ms);
  j["max_slot_wait_ms"] = r.slot_wait_ms.max;
  j["client_cpu_s"] = r.client_cpu_s;
  j["client_cpu_us_per_output_token"] = r.client_cpu_us_per_token;
  j["connections_opened"] = r.connections_opened;
  j["usage_missing"] = r.usage_missing;
  if (r.token_check) {
    j["token_check"] = {{"requests_checked", r.token_check->requests_checked},
                        {"prompt_token_mismatches", r.token_check->prompt_token_mismatches},
                        {"output_token_mismatches", r.token_check->output_token_mismatches},
                        {"mean_abs_prompt_diff", r.token_check->mean_abs_prompt_diff},
                        {"mean_abs_output_diff", r.token_check->mean_abs_output_diff}};
  }
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (const auto& [message, count] : r.errors) errors.push_back({{"message", message}, {"count", count}});
  j["error_groups"] = errors;
  j["config"] = {{"base_url", c.base_url},
                 {"endpoint", c.endpoint},
                 {"dataset", c.dataset.spec},
                 {"input_len", c.dataset.input_len},
                 {"output_len", c.dataset.output_len},
                 {"range_ratio", c.dataset.range_ratio},
                 {"prefix_len", c.dataset.prefix_len},
                 {"ignore_eos", c.ignore_eos},
                 {"temperature", c.temperature},
                 {"warmup", c.warmup},
                 {"seed", c.seed},
                 {"timeout_s", c.timeout_s},
                 {"goodput",
                  {{"ttft_ms", c.goodput.ttft_ms ? nlohmann::json(*c.goodput.ttft_ms) : nlohmann::json(nullptr)},
                   {"tpot_ms", c.goodput.tpot_ms ? nlohmann::json(*c.goodput.tpot_ms) : nlohmann::json(nullptr)},
                   {"e2el_ms", c.goodput.e2el_ms ? nlohmann::json(*c.goodput.e2el_ms) : nlohmann::json(nullptr)}}},
                 {"percentiles", c.percentiles},
                 {"percentile_method", "linear (numpy default)"}};
  if (detailed) {
    nlohmann::ordered_json ttfts = nlohmann::ordered_json::array(), itls = nlohmann::ordered_json::array(),
                           e2els = nlohmann::ordered_json::array(), starts = nlohmann::ordered_json::array(),
                           sched = nlohmann::ordered_json::array(), lags = nlohmann::ordered_json::array(),
                           waits = nlohmann::ordered_json::array(), texts = nlohmann::ordered_json::array(),
                           errs = nlohmann::ordered_json::array();
    for (const RequestRecord& rec : r.records) {
      const bool ok = rec.success;
      ttfts.push_back(ok ? rec.first_chunk_s - rec.start_s : 0.0);
      nlohmann::ordered_json gaps = nlohmann::ordered_json::array();
      for (float g : rec.itl_s) gaps.push_back(static_cast<double>(g));
      itls.push_back(std::move(gaps));
      e2els.push_back(ok ? rec.last_chunk_s - rec.start_s : 0.0);
      starts.push_back(rec.start_s);
      sched.push_back(rec.scheduled_s);
      lags.push_back(rec.arrival_s - rec.scheduled_s);
      waits.push_back(rec.start_s - rec.arrival_s);
      texts.push_back(rec.text);
      errs.push_back(rec.error);
    }
    j["input_lens"] = r.input_lens;
    j["output_lens"] = r.output_lens;
    j["ttfts"] = ttfts;
    j["itls"] = itls;
    j["latencies"] = e2els;
    j["start_times"] = starts;
    j["scheduled_times"] = sched;
    j["schedule_lags"] = lags;
    j["slot_waits"] = waits;
    j["generated_texts"] = texts;
    j["errors"] = errs;
  }
  return j;
}

void save_json(const std::string& path, const nlohmann::ordered_json& json) {
  std::ofstream out(path);
  check(out.good(), "cannot write result file '" + path + "'");
  out << json.dump(2) << "\n";
  check(out.good(), "error while writing result file '" + path + "'");
}

}  // namespace serval::bench
