// SchedulerOutput: the plain result of one Scheduler::schedule() call ({request_id: num_tokens} plus what
// the model step needs), and RequestUpdate: what update_from_output reports back per request.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sched/request.h"

namespace serval {

// How a scheduled request got into this step.
enum class ScheduleKind : uint8_t {
  New,      // admitted from the waiting queue for the first time (its queue time ends here)
  Resumed,  // re-admitted after a preemption (recomputes its prompt and outputs so far)
  Running,  // was already running (a decode step or the next prefill chunk)
};

// One request's share of a step.
struct ScheduledRequest {
  RequestId request_id;                       // which request
  ScheduleKind kind = ScheduleKind::Running;  // new, resumed after preemption, or already running
  int num_computed_tokens = 0;     // tokens already in the KV cache before this step (incl. prefix hits)
  int num_tokens = 0;              // tokens computed this step (>= 1): a prefill chunk or 1 decode token
  std::vector<int32_t> token_ids;  // [num_tokens] all_token_ids[num_computed_tokens, +num_tokens)
  std::vector<int32_t> block_ids;  // the request's whole block table after this step's allocation
  bool produces_logits = false;    // true when this step reaches the end of the request's known tokens,
                                   // so its last row is sampled; false for a partial prefill chunk
};

struct SchedulerOutput {
  std::vector<ScheduledRequest> scheduled;       // running requests first (in running order), then
                                                 // admissions in FCFS order
  int total_num_scheduled_tokens = 0;            // sum of num_tokens; <= max_num_batched_tokens
  std::vector<RequestId> preempted_request_ids;  // preempted in this step (newest first); the engine logs
                                                 // vLLM's preemption warning for them
  std::vector<RequestId> finished_request_ids;   // finished or aborted since the previous schedule()
                                                 // (so a model runner can drop per-request state)
  int num_running = 0;                           // requests running after this schedule()
  int num_waiting = 0;                           // requests waiting (incl. preempted) after it

  bool empty() const { return scheduled.empty(); }
};

// What one step did to one request (returned by Scheduler::update_from_output).
struct RequestUpdate {
  RequestId request_id;                           // which request
  std::vector<int32_t> new_token_ids;             // tokens appended this step (one today)
  bool finished = false;                          // the request is done and its KV blocks are freed
  RequestStatus status = RequestStatus::Running;  // its status after this step
  std::optional<int32_t> stop_reason;             // the stop token id that finished it, if any
  int num_prompt_tokens = 0;                      // prompt length (usage.prompt_tokens)
  int num_output_tokens = 0;                      // outputs so far (usage.completion_tokens)
  int num_cached_tokens = 0;                      // prefix-cache hit at first admission (usage cached_tokens)
};

}  // namespace serval
