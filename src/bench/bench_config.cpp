// Validation and flag-value parsing for BenchConfig.
#include "bench/bench_config.h"

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace serval::bench {

namespace {

double parse_number(const std::string& text, const std::string& what) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used > 0 && used == text.size() && std::isfinite(value), what + ": '" + text + "' is not a number");
  return value;
}

}  // namespace

void validate(const BenchConfig& c) {
  check(c.base_url.rfind("http://", 0) == 0,
        "--base-url '" + c.base_url + "' must start with http:// (https is not supported)");
  check(c.endpoint == "/v1/completions" || c.endpoint == "/v1/chat/completions",
        "--endpoint '" + c.endpoint + "' must be /v1/completions or /v1/chat/completions");
  check(!c.model.empty(), "--model is required (the model name the server serves)");
  check(c.num_prompts >= 1, "--num-prompts must be >= 1, got " + std::to_string(c.num_prompts));
  check(c.max_concurrency >= 0, "--max-concurrency must be >= 0, got " + std::to_string(c.max_concurrency));
  check(c.request_rate > 0, "--request-rate must be > 0 or inf");
  check(c.burstiness > 0, "--burstiness must be > 0 (1 = Poisson, inf = constant spacing)");
  check(c.warmup >= 0, "--warmup must be >= 0, got " + std::to_string(c.warmup));
  check(c.timeout_s >= 0, "--timeout must be >= 0 seconds");
  check(c.temperature >= 0, "--temperature must be >= 0");
  check(c.dataset.input_len >= 1, "--input-len must be >= 1, got " + std::to_string(c.dataset.input_len));
  check(c.dataset.output_len >= 1, "--output-len must be >= 1, got " + std::to_string(c.dataset.output_len));
  check(c.dataset.prefix_len >= 0, "--prefix-len must be >= 0");
  check(c.dataset.max_tokens >= 0, "--max-tokens values must be >= 1, got " + std::to_string(c.dataset.max_tokens));
  check(c.dataset.range_ratio >= 0 && c.dataset.range_ratio < 1,
        "--range-ratio must be in [0, 1), got " + std::to_string(c.dataset.range_ratio));
  for (double p : c.percentiles) check(p > 0 && p <= 100, "--percentiles values must be in (0, 100]");
}

GoodputSlo parse_goodput(const std::vector<std::string>& items) {
  GoodputSlo slo;
  for (const std::string& raw : items) {
    std::istringstream words(raw);  // accept "ttft:1 tpot:2" in one argument too
    std::string item;
    while (words >> item) {
      const size_t colon = item.find(':');
      check(colon != std::string::npos, "--goodput item '" + item + "' must be NAME:MS (ttft, tpot or e2el)");
      const std::string name = item.substr(0, colon);
      const double ms = parse_number(item.substr(colon + 1), "--goodput " + name);
      check(ms > 0, "--goodput " + name + " must be > 0 ms");
      if (name == "ttft") slo.ttft_ms = ms;
      else if (name == "tpot") slo.tpot_ms = ms;
      else if (name == "e2el") slo.e2el_ms = ms;
      else throw Error("--goodput metric '" + name + "' is not one of ttft, tpot, e2el");
    }
  }
  return slo;
}

std::vector<double> parse_percentiles(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const double p = parse_number(item, "--percentiles");
    check(p > 0 && p <= 100, "--percentiles value " + item + " is not in (0, 100]");
    out.push_back(p);
  }
  check(!out.empty(), "--percentiles is empty");
  return out;
}

double parse_rate(const std::string& text, const std::string& flag) {
  if (text == "inf" || text == "Inf" || text == "INF") return std::numeric_limits<double>::infinity();
  const double v = parse_number(text, flag);
  check(v > 0, flag + " must be > 0 or inf, got " + text);
  return v;
}

std::string percentile_key(double p) {
  std::ostringstream s;  // NOTE: not "p" + std::to_string(..): g++ 12 -O3 reports a false -Wrestrict there
  s << "p";
  if (p == std::floor(p)) s << static_cast<long>(p);
  else s << p;
  return s.str();
}

}  // namespace serval::bench
