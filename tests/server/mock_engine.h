// MockEngine: a deterministic EngineClient for API-layer tests. One worker thread steps every active
// request by one token per step; token k of a request is 'a' + (seed + prompt_len + k) % 26 (as a byte id
// of the FakeTokenizer). Supports stop strings, stop_token_ids, eos, min_tokens, logprobs, aborts, a
// per-step delay, and holding requests until released, and records what it was given.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_client.h"

namespace serval::test {

// Byte-level fake tokenizer: id = byte value; id 1 = BOS (added with add_special_tokens), id 2 = EOS.
inline std::vector<int32_t> fake_encode(const std::string& text, bool add_special_tokens) {
  std::vector<int32_t> ids;
  if (add_special_tokens) ids.push_back(1);
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

inline std::string fake_decode(const std::vector<int32_t>& ids, bool skip_special_tokens) {
  std::string s;
  for (int32_t id : ids) {
    if (id == 1 || id == 2) {
      if (!skip_special_tokens) s += id == 1 ? "<s>" : "</s>";
      continue;
    }
    s += static_cast<char>(id);
  }
  return s;
}

class MockEngine : public EngineClient {
 public:
  static constexpr int32_t kEos = 2;

  MockEngine() : worker_([this] { run(); }) {}
  ~MockEngine() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  // Settings (set before submitting).
  std::chrono::milliseconds step_delay{0};  // pause between steps (pacing, not synchronization)
  int eos_after = -1;                       // emit EOS as token number eos_after (0-based); -1 = never
  std::atomic<bool> hold{false};            // while true, requests are queued but not stepped
  int fail_after = -1;                      // finish with FinishReason::Error after this many tokens
  std::atomic<int> stall_after{-1};         // requests stop advancing (stay active) after this many tokens

  void release() {
    hold = false;
    cv_.notify_all();
  }

  void submit(EngineRequest request, OutputCallback on_output) override {
    std::lock_guard lock(mu_);
    submitted_.push_back(request);
    Active a;
    a.req = std::move(request);
    a.cb = std::move(on_output);
    active_.push_back(std::move(a));
    cv_.notify_all();
  }

  void abort(const std::string& request_id) override {
    std::lock_guard lock(mu_);
    aborted_.push_back(request_id);
    for (auto it = active_.begin(); it != active_.end(); ++it) {
      if (it->req.request_id == request_id) {
        RequestOutput out;
        out.request_id = request_id;
        out.finished = true;
        out.finish_reason = FinishReason::Abort;
        pending_callbacks_.push_back({it->cb, out});
        active_.erase(it);
        break;
      }
    }
    cv_.notify_all();
  }

  EngineStats stats() const override {
    std::lock_guard lock(mu_);
    EngineStats s;
    s.num_requests_running = static_cast<int>(active_.size());
    s.kv_cache_usage = std::min(1.0, 0.1 * static_cast<double>(active_.size()));
    s.prompt_tokens = prompt_tokens_;
    s.generation_tokens = generation_tokens_;
    return s;
  }

  std::vector<EngineRequest> submitted() const {
    std::lock_guard lock(mu_);
    return submitted_;
  }
  std::vector<std::string> aborted() const {
    std::lock_guard lock(mu_);
    return aborted_;
  }
  int num_active() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(active_.size());
  }
  // Waits (up to timeout) until pred(*this) holds; returns whether it did.
  template <class Pred>
  bool wait_until(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(10)) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(*this)) return true;
      std::unique_lock lock(mu_);
      changed_.wait_for(lock, std::chrono::milliseconds(20));
    }
    return pred(*this);
  }

  // The text the mock generates for a prompt of this length and seed, before any stop condition.
  static char token_char(uint64_t seed, size_t prompt_len, int k) {
    return static_cast<char>('a' + (seed + prompt_len + static_cast<uint64_t>(k)) % 26);
  }

 private:
  struct Active {
    EngineRequest req;
    OutputCallback cb;
    int generated = 0;
    std::string text;
    bool counted_prompt = false;
  };

  void run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !pending_callbacks_.empty() || (has_steppable() && !hold); });
      if (stop_) return;
      // Callbacks are made without the lock, as a real engine thread would.
      auto pending = std::move(pending_callbacks_);
      pending_callbacks_.clear();
      std::vector<std::pair<OutputCallback, RequestOutput>> batch(pending.begin(), pending.end());
      if (!hold) {
        for (auto it = active_.begin(); it != active_.end();) {
          if (stall_after >= 0 && it->generated >= stall_after) {
            ++it;
            continue;
          }
          RequestOutput out = step(*it);
          batch.push_back({it->cb, out});
          if (out.finished) it = active_.erase(it);
          else ++it;
        }
      }
      lock.unlock();
      for (auto& [cb, out] : batch) cb(out);
      changed_.notify_all();
      if (step_delay.count() > 0) std::this_thread::sleep_for(step_delay);
      lock.lock();
    }
  }

  bool has_steppable() const {
    for (const Active& a : active_)
      if (stall_after < 0 || a.generated < stall_after) return true;
    return false;
  }

  RequestOutput step(Active& a) {
    const SamplingParams& p = a.req.params;
    if (!a.counted_prompt) {
      prompt_tokens_ += a.req.prompt_ids.size();
      a.counted_prompt = true;
    }
    RequestOutput out;
    out.request_id = a.req.request_id;
    out.num_prompt_tokens = static_cast<int>(a.req.prompt_ids.size());
    const int k = a.generated;
    int32_t id = static_cast<unsigned char>(token_char(p.seed.value_or(0), a.req.prompt_ids.size(), k));
    if (eos_after >= 0 && k >= eos_after && !p.ignore_eos && k >= p.min_tokens) id = kEos;
    ++a.generated;
    ++generation_tokens_;
    out.new_token_ids = {id};
    out.num_output_tokens = a.generated;
    if (p.logprobs >= 0) {
      SampleResult r;
      r.token_id = id;
      r.logprob = -0.25f;
      for (int t = 0; t < p.logprobs; ++t) r.top_logprobs.push_back({'a' + t, -0.5f - static_cast<float>(t)});
      out.new_logprobs.push_back(r);
    }
    const bool stop_id = std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), id) != p.stop_token_ids.end();
    if (id == kEos || (stop_id && k >= p.min_tokens)) {
      out.finished = true;
      out.finish_reason = FinishReason::Stop;
      if (stop_id) out.stop_reason = id;
      return out;
    }
    std::string piece(1, static_cast<char>(id));
    a.text += piece;
    out.new_text = piece;
    for (const std::string& s : a.req.stop) {
      if (a.text.size() >= s.size() && a.text.compare(a.text.size() - s.size(), s.size(), s) == 0) {
        // The mock emits one char per step, so only the last char can be withheld here; good enough
        // for single-character stop strings, which is what the tests use.
        if (!a.req.include_stop_str_in_output) out.new_text.clear();
        out.finished = true;
        out.finish_reason = FinishReason::Stop;
        out.stop_reason = s;
        return out;
      }
    }
    if (fail_after >= 0 && a.generated > fail_after) {
      out.new_text.clear();
      out.finished = true;
      out.finish_reason = FinishReason::Error;
      out.error_message = "mock engine failure";
      return out;
    }
    if (a.generated >= p.max_tokens) {
      out.finished = true;
      out.finish_reason = FinishReason::Length;
    }
    return out;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  mutable std::condition_variable changed_;
  std::deque<Active> active_;
  std::deque<std::pair<OutputCallback, RequestOutput>> pending_callbacks_;
  std::vector<EngineRequest> submitted_;
  std::vector<std::string> aborted_;
  uint64_t prompt_tokens_ = 0;
  uint64_t generation_tokens_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace serval::test
