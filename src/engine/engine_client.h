// EngineClient: the serving engine as the HTTP server sees it. The real engine (engine/llm_engine.h)
// runs its step loop on its own thread; tests of the API layer use a mock.
#pragma once

#include <cstdint>
#include <string>

#include "engine/engine_request.h"

namespace serval {

// Snapshot of engine state for /metrics (names follow vLLM's Prometheus metrics).
struct EngineStats {
  int num_requests_running = 0;      // vllm:num_requests_running
  int num_requests_waiting = 0;      // vllm:num_requests_waiting
  double kv_cache_usage = 0.0;       // vllm:kv_cache_usage_perc, fraction in [0, 1]
  uint64_t num_preemptions = 0;      // vllm:num_preemptions_total
  uint64_t prefix_cache_queries = 0; // vllm:prefix_cache_queries_total (tokens)
  uint64_t prefix_cache_hits = 0;    // vllm:prefix_cache_hits_total (tokens)
  uint64_t prompt_tokens = 0;        // vllm:prompt_tokens_total
  uint64_t generation_tokens = 0;    // vllm:generation_tokens_total
};

class EngineClient {
 public:
  virtual ~EngineClient() = default;
  // Queues a request; on_output is called (from the engine thread) for each update and exactly once
  // with finished == true, unless the request is aborted first (then once with FinishReason::Abort).
  virtual void submit(EngineRequest request, OutputCallback on_output) = 0;
  // Aborts a request in any state and frees its KV blocks; safe to call for finished/unknown ids.
  virtual void abort(const std::string& request_id) = 0;
  virtual EngineStats stats() const = 0;
};

}  // namespace serval
