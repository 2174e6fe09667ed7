// Scheduler: vLLM v1-style continuous batching. No prefill/decode phases: every step hands out
// {request_id: num_tokens} under a token budget, running requests first, then waiting ones in FCFS order;
// chunked prefill, prefix-cache hits and recompute preemption (newest running request first) fall out.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "kv/kv_cache_manager.h"
#include "sched/request.h"
#include "sched/scheduler_output.h"

namespace serval {

struct SchedulerConfig {
  int max_num_seqs = 256;              // requests in one step at most (--max-num-seqs)
  int max_num_batched_tokens = 2048;   // tokens in one step at most (--max-num-batched-tokens)
  int max_model_len = 0;               // prompt + output tokens per request at most (--max-model-len), > 0
  bool enable_chunked_prefill = true;  // false: a prompt is computed in one step or waits
  // Throws serval::Error naming the first bad field (vLLM's rules: max_num_batched_tokens >= max_num_seqs,
  // and >= max_model_len when chunked prefill is off).
  void validate() const;
};

// Counters and gauges for /metrics and the periodic stats log line.
struct SchedulerStats {
  int num_running = 0;            // vllm:num_requests_running
  int num_waiting = 0;            // vllm:num_requests_waiting (incl. preempted)
  double kv_cache_usage = 0.0;    // vllm:kv_cache_usage_perc, fraction in [0, 1]
  PrefixCacheStats prefix_cache;  // vllm:prefix_cache_queries / _hits (tokens)
  int64_t num_preemptions = 0;    // vllm:num_preemptions
};

// Not thread-safe: the engine thread owns it; HTTP threads hand aborts and new requests to that thread.
class Scheduler {
 public:
  // Throws serval::Error on a bad config, or when one max_model_len request cannot fit in the KV blocks.
  Scheduler(const SchedulerConfig& config, const KvCacheConfig& kv_config);

  // Queues a request (status Waiting). Throws serval::Error on an empty prompt, a prompt longer than
  // max_model_len (or than max_num_batched_tokens with chunked prefill off), max_tokens < 1, or an id
  // already live. The request's outputs/num_computed_tokens must be empty/0.
  void add_request(Request request);

  // Plans one step. An empty output (nothing to run) needs no update_from_output.
  // PRECONDITION: the previous non-empty schedule() output went through update_from_output.
  SchedulerOutput schedule();

  // Applies one step's results: advances num_computed_tokens, caches newly full blocks, appends the
  // sampled tokens, checks stop criteria, frees finished requests. sampled_token_ids is aligned with
  // output.scheduled: one token for each entry with produces_logits, empty for the others. Entries whose
  // request was aborted meanwhile are skipped. PRECONDITION: output is the latest schedule() result.
  std::vector<RequestUpdate> update_from_output(const SchedulerOutput& output,
                                                const std::vector<std::vector<int32_t>>& sampled_token_ids);

  // Finishes a live request in any state with a Finished* status (abort = FinishedAborted; the engine
  // uses FinishedStopped for stop strings) and frees its blocks. Returns false for an unknown id.
  bool finish_request(const RequestId& request_id, RequestStatus finished_status);
  bool abort_request(const RequestId& request_id) {
    return finish_request(request_id, RequestStatus::FinishedAborted);
  }

  const Request* find_request(const RequestId& request_id) const;
  bool has_unfinished_requests() const { return !requests_.empty(); }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  SchedulerStats stats() const;
  const KvCacheManager& kv_cache_manager() const { return kv_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  void preempt(Request& request);
  ScheduledRequest make_scheduled(const Request& request, ScheduleKind kind, int num_tokens) const;
  void remove_finished(Request& request, RequestStatus status);

  SchedulerConfig config_;
  KvCacheManager kv_;
  std::unordered_map<RequestId, std::unique_ptr<Request>> requests_;  // every live (unfinished) request
  std::deque<Request*> waiting_;         // FCFS; preempted requests go to the front
  std::vector<Request*> running_;        // admission order; the back is preempted first
  std::vector<RequestId> finished_ids_;  // finished since the last schedule()
  int64_t num_preemptions_ = 0;          // cumulative
  bool awaiting_update_ = false;         // schedule() ran; update_from_output has not yet
};

}  // namespace serval
