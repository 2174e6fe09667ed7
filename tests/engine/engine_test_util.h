// Helpers for LLMEngine tests: the golden qwen2-tiny model (float32), a blocking collector of a request's
// outputs, and the single-sequence Generator as the reference each engine output must equal.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/llm_engine.h"
#include "model/model.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace serval::test {

inline std::string tiny_model_dir() { return golden_dir() + "/models/qwen2-tiny"; }

// Everything a request produced, gathered from the engine thread.
struct Collected {
  std::vector<RequestOutput> outputs;
  std::vector<int32_t> token_ids;
  std::string text;
  bool finished = false;
  FinishReason reason = FinishReason::None;
  std::optional<std::variant<int32_t, std::string>> stop_reason;
  std::string error;
  int num_cached_tokens = 0;
  std::optional<double> queue_time_s;
};

class Collector {
 public:
  OutputCallback callback() {
    return [this](const RequestOutput& o) {
      std::lock_guard lock(mu_);
      c_.outputs.push_back(o);
      c_.token_ids.insert(c_.token_ids.end(), o.new_token_ids.begin(), o.new_token_ids.end());
      c_.text += o.new_text;
      c_.num_cached_tokens = o.num_cached_tokens;
      if (o.queue_time_s) c_.queue_time_s = o.queue_time_s;
      if (o.finished) {
        EXPECT_FALSE(c_.finished) << "second finished output for " << o.request_id;
        c_.finished = true;
        c_.reason = o.finish_reason;
        c_.stop_reason = o.stop_reason;
        c_.error = o.error_message;
      }
      cv_.notify_all();
    };
  }
  // Waits until finished (fails the test after 60 s) and returns what was collected.
  Collected wait() {
    std::unique_lock lock(mu_);
    const bool done = cv_.wait_for(lock, std::chrono::seconds(60), [&] { return c_.finished; });
    EXPECT_TRUE(done) << "request did not finish";
    return c_;
  }
  // Waits until at least n outputs arrived.
  void wait_outputs(size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60), [&] { return c_.outputs.size() >= n || c_.finished; }));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Collected c_;
};

inline EngineRequest make_request(const std::string& id, std::vector<int32_t> prompt, SamplingParams p) {
  EngineRequest r;
  r.request_id = id;
  r.prompt_ids = std::move(prompt);
  r.params = std::move(p);
  return r;
}

inline SamplingParams greedy(int max_tokens, bool ignore_eos = true) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = ignore_eos;
  return p;
}

inline LLMEngineConfig engine_config(int num_blocks, int block_size = 16, int max_num_batched_tokens = 256,
                                     int max_model_len = 256) {
  LLMEngineConfig c;
  c.scheduler.max_num_seqs = std::min(64, max_num_batched_tokens);
  c.scheduler.max_num_batched_tokens = max_num_batched_tokens;
  c.scheduler.max_model_len = max_model_len;
  c.kv.num_blocks = num_blocks;
  c.kv.block_size = block_size;
  c.stats_log_interval_s = 0;
  c.log_requests = false;
  return c;
}

// The tokens the single-sequence Generator produces (its own KV cache, one request at a time).
inline std::vector<int32_t> reference_tokens(Model& model, const std::vector<int32_t>& prompt,
                                             const SamplingParams& params, const std::vector<int32_t>& eos = {}) {
  Generator gen(model, 1024);
  std::vector<int32_t> out;
  gen.generate(prompt, params, eos, [&](const SampleResult& s, bool) { out.push_back(s.token_id); });
  return out;
}

}  // namespace serval::test
