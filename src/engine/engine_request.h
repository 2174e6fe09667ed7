// EngineRequest / RequestOutput: what the server hands the serving engine, and what comes back
// as the request runs. Plain structs; the server owns HTTP and JSON, the engine owns tokens.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "engine/sampling_params.h"

namespace serval {

struct EngineRequest {
  std::string request_id;              // unique per submitted sequence (the server adds "-<index>" for n > 1)
  std::vector<int32_t> prompt_ids;     // already tokenized and length-checked by the server
  SamplingParams params;               // validated; params.max_tokens already resolved (default: remaining context)
  std::vector<std::string> stop;       // stop strings: generation ends BEFORE the first match, which is never emitted
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;     // for the detokenized text
  std::chrono::steady_clock::time_point arrival_time = std::chrono::steady_clock::now();
};

enum class FinishReason { None, Stop, Length, Abort, Error };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort", "error"; None -> nullptr

// One update for a request: the tokens and text produced since the previous update.
struct RequestOutput {
  std::string request_id;
  std::vector<int32_t> new_token_ids;        // sampled since last update
  std::string new_text;                      // detokenized text since last update (never a broken UTF-8 char;
                                             // held back while it could be the start of a stop string)
  std::vector<SampleResult> new_logprobs;    // one per new token when params.logprobs >= 0
  bool finished = false;
  FinishReason finish_reason = FinishReason::None;
  std::optional<std::variant<int32_t, std::string>> stop_reason;  // the stop id or stop string that matched
  std::string error_message;                 // when finish_reason == Error
  int num_prompt_tokens = 0;
  int num_output_tokens = 0;                 // total so far
  int num_cached_tokens = 0;                 // prompt tokens served from the prefix cache
  std::optional<double> queue_time_s;        // arrival -> first scheduled, on the first output only
                                             // (vllm:request_queue_time_seconds)
};

// Called from the engine's thread for every update; must not block (post to the I/O loop).
using OutputCallback = std::function<void(const RequestOutput&)>;

}  // namespace serval
