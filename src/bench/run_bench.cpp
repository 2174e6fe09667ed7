// run_bench (see run_bench.h).
#include "bench/run_bench.h"

#include <nlohmann/json.hpp>

#include "bench/arrival_schedule.h"
#include "bench/stream_client.h"
#include "core/error.h"

namespace serval::bench {

std::string request_body(const BenchConfig& c, const BenchSample& s) {
  nlohmann::json body;
  body["model"] = c.model;
  if (c.endpoint == "/v1/chat/completions") {
    body["messages"] = s.messages.is_null()
                           ? nlohmann::json::array({{{"role", "user"}, {"content", s.prompt}}})
                           : s.messages;
    // Both spellings: vLLM reads max_completion_tokens, older servers only max_tokens.
    body["max_completion_tokens"] = s.output_len;
    body["max_tokens"] = s.output_len;
  } else {
    check(s.messages.is_null(), "dataset '" + c.dataset.spec +
                                    "' has chat messages; use --endpoint /v1/chat/completions to send them");
    body["prompt"] = s.prompt;
    body["max_tokens"] = s.output_len;
  }
  body["temperature"] = c.temperature;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (c.ignore_eos) body["ignore_eos"] = true;
  return body.dump();
}

BenchResult run_bench(const BenchConfig& config) {
  validate(config);
  ClientOptions options;
  options.target = parse_http_target(config.base_url, config.endpoint);
  options.api_key = config.api_key;
  options.max_concurrency = config.max_concurrency;
  options.timeout_s = config.timeout_s;
  options.keep_text = config.keep_text || static_cast<bool>(config.token_counter);
  options.show_progress = config.show_progress;

  std::vector<BenchSample> samples =
      load_samples(config.dataset, config.num_prompts, config.seed, config.token_counter);

  if (config.warmup > 0) {
    // Warmup prompts come from the same dataset under a different seed, so they do not pre-warm the
    // measured prompts' prefix cache; all are released at t=0 under the same concurrency cap.
    const std::vector<BenchSample> warm =
        load_samples(config.dataset, config.warmup, config.seed ^ 0x77a4e0f5ull, config.token_counter);
    std::vector<ClientRequest> warm_requests;
    for (const BenchSample& s : warm) warm_requests.push_back({request_body(config, s), 0.0});
    ClientOptions warm_options = options;
    warm_options.progress_label = "warmup";
    run_streams(warm_options, warm_requests);
  }

  const std::vector<double> offsets =
      arrival_offsets(config.num_prompts, config.request_rate, config.burstiness, config.seed);
  std::vector<ClientRequest> requests;
  requests.reserve(samples.size());
  std::vector<int> prompt_lens;
  MetricsOptions metrics;
  for (size_t i = 0; i < samples.size(); ++i) {
    requests.push_back({request_body(config, samples[i]), offsets[i]});
    prompt_lens.push_back(samples[i].prompt_len);
  }
  samples = {};  // the bodies hold the prompts now; long prompts x many requests add up
  metrics.percentiles = config.percentiles;
  metrics.goodput = config.goodput;
  metrics.token_counter = config.token_counter;
  metrics.compare_prompt_tokens = config.endpoint == "/v1/completions";
  return compute_metrics(run_streams(options, requests), prompt_lens, metrics);
}

}  // namespace serval::bench
