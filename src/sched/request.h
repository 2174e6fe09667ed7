// Request: one generation request as the scheduler tracks it (vLLM v1's Request): its known tokens,
// how many of them are in the KV cache, its status, and the token-level stop criteria.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "kv/kv_cache_manager.h"

namespace serval {

enum class RequestStatus : uint8_t {
  Waiting,               // queued, never scheduled
  Running,               // in the running batch (holds KV blocks)
  Preempted,             // evicted to free KV; back in the waiting queue, will recompute
  FinishedStopped,       // eos or a stop token id (or a stop string, via Scheduler::finish_request)
  FinishedLengthCapped,  // max_tokens or max_model_len reached
  FinishedAborted,       // client went away / cancelled
};

bool is_finished(RequestStatus s);
std::string_view status_name(RequestStatus s);
// OpenAI finish_reason for a finished status: "stop", "length" or "abort"; "" when not finished.
std::string_view finish_reason(RequestStatus s);

// Token-level stop conditions (stop strings are the engine's job: it calls Scheduler::finish_request).
struct StopCriteria {
  int max_tokens = 16;                  // output tokens at most (>= 1)
  int min_tokens = 0;                   // eos and stop ids do not stop before this many output tokens
  std::vector<int32_t> eos_token_ids;   // the model's eos ids; ignored when ignore_eos
  std::vector<int32_t> stop_token_ids;  // request's stop ids; always honoured (after min_tokens)
  bool ignore_eos = false;              // keep generating past eos ids
};

struct Request {
  RequestId request_id;                   // unique among live requests
  std::vector<int32_t> prompt_token_ids;  // the prompt (non-empty)
  std::vector<int32_t> output_token_ids;  // generated so far (kept across preemption)
  std::vector<int32_t> all_token_ids;     // prompt then outputs: every known token
  int num_computed_tokens = 0;            // leading tokens of all_token_ids whose K/V are in the cache
  int num_cached_tokens = -1;             // prefix-cache hit at first admission (-1 until admitted);
                                          // usage.prompt_tokens_details.cached_tokens
  int num_preemptions = 0;                // times this request was preempted
  RequestStatus status = RequestStatus::Waiting;
  StopCriteria stop;                   // when to finish
  std::optional<int32_t> stop_reason;  // the stop token id that finished it, if any (vLLM stop_reason)

  Request() = default;
  Request(RequestId id, std::vector<int32_t> prompt, StopCriteria stop);

  int num_tokens() const { return static_cast<int>(all_token_ids.size()); }
  int num_prompt_tokens() const { return static_cast<int>(prompt_token_ids.size()); }
  int num_output_tokens() const { return static_cast<int>(output_token_ids.size()); }
  // Appends one sampled token. PRECONDITION: not finished.
  void append_output_token(int32_t token_id);
};

// Applies the stop rules after the newest output token, in vLLM's order: length (max_tokens or
// max_model_len) first, then eos (unless ignore_eos), then stop ids; eos/stop ids only count once
// num_output_tokens >= min_tokens. Sets status (and stop_reason) and returns true when finished.
// PRECONDITION: at least one output token.
bool check_stop(Request& request, int max_model_len);

}  // namespace serval
