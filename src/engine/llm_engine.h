// LLMEngine: the serving engine behind `serval serve`. One engine thread runs vLLM v1's step loop —
// schedule (continuous batching, chunked prefill, prefix caching, preemption), ONE batched forward over
// every scheduled token, sample each request that reached the end of its known tokens, update the
// scheduler, detokenize and match stop strings, call back — and takes new requests and aborts from
// any thread through an inbox between steps.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/engine_client.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "sched/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace serval {

struct LLMEngineConfig {
  SchedulerConfig scheduler;           // --max-num-seqs, --max-num-batched-tokens, --max-model-len, chunked prefill
  KvCacheConfig kv;                    // num_blocks (incl. the null block), --block-size, prefix caching
  std::vector<int32_t> eos_token_ids;  // the model's eos ids (generation_config.json + tokenizer)
  // Seconds between vLLM's "Avg prompt throughput ..." lines while busy; <= 0 turns them off.
  double stats_log_interval_s = 10.0;
  bool log_requests = true;            // false = --disable-log-requests
  // --seed: requests without a seed of their own get one drawn from a generator seeded with it, so a
  // server run replays the same way for the same arrival order. nullopt: from std::random_device.
  std::optional<uint64_t> seed;
};

// Where the engine thread's time goes (cumulative since start), to measure scheduling and output
// overhead against the forward pass.
struct EngineStepTimings {
  int64_t num_steps = 0;         // steps that ran a forward
  int64_t num_tokens = 0;        // tokens computed by those forwards
  double schedule_s = 0.0;       // Scheduler::schedule + building the model inputs
  double forward_s = 0.0;        // Model::forward
  double sample_s = 0.0;         // sampling every request that produced logits
  double update_s = 0.0;         // Scheduler::update_from_output + detokenize + stop strings + callbacks
  double total_s() const { return schedule_s + forward_s + sample_s + update_s; }
};

class LLMEngine : public EngineClient {
 public:
  // Allocates the KV cache (config.kv.num_blocks blocks) and starts the engine thread. The model and
  // tokenizer must outlive the engine. Throws serval::Error on a bad config (see Scheduler).
  LLMEngine(Model& model, const Tokenizer& tokenizer, LLMEngineConfig config);
  ~LLMEngine() override;  // stop()
  LLMEngine(const LLMEngine&) = delete;
  LLMEngine& operator=(const LLMEngine&) = delete;

  // EngineClient. A request the scheduler rejects (empty prompt, too long, id in use, token id outside
  // the vocabulary) gets one finished output with FinishReason::Error and the reason.
  void submit(EngineRequest request, OutputCallback on_output) override;
  void abort(const std::string& request_id) override;
  EngineStats stats() const override;

  // Aborts every live request (each gets its Abort output) and joins the engine thread. Idempotent.
  void stop();

  EngineStepTimings step_timings() const;
  const LLMEngineConfig& config() const { return config_; }
  size_t kv_cache_bytes() const { return kv_.total_bytes(); }

 private:
  struct Live;  // one request's engine-side state (sampler, detokenizer, stop strings, callback)
  struct Inbox {
    std::vector<std::pair<EngineRequest, OutputCallback>> submitted;
    std::vector<std::string> aborted;
    bool stop = false;
  };

  void run();
  bool take_inbox(bool wait);
  void admit(EngineRequest request, OutputCallback cb);
  void finish_with_error(const std::string& request_id, const std::string& message);
  void step();
  void emit_updates(const std::vector<RequestUpdate>& updates);
  void publish_stats();
  void deliver();  // publishes stats, then makes the callbacks queued in pending_
  void maybe_log_stats(std::chrono::steady_clock::time_point now);

  Model& model_;
  const Tokenizer& tokenizer_;
  LLMEngineConfig config_;
  KvCache kv_;
  Scheduler scheduler_;
  std::unordered_map<std::string, std::unique_ptr<Live>> live_;  // engine thread only
  ModelOutput model_out_;                                        // engine thread only
  std::vector<std::pair<OutputCallback, RequestOutput>> pending_;  // engine thread: outputs to deliver

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Inbox inbox_;
  EngineStats stats_;            // published after each step (under mu_)
  EngineStepTimings timings_;    // published after each step (under mu_)
  EngineStepTimings local_timings_;
  uint64_t prompt_tokens_ = 0;   // engine thread counters, copied into stats_
  uint64_t generation_tokens_ = 0;
  // For the periodic throughput line.
  std::chrono::steady_clock::time_point last_log_;
  uint64_t logged_prompt_tokens_ = 0;
  uint64_t logged_generation_tokens_ = 0;
  int64_t logged_prefix_queries_ = 0;
  int64_t logged_prefix_hits_ = 0;
  std::mt19937_64 seed_rng_;     // engine thread only: seeds for unseeded requests
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace serval
