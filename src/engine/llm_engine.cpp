// LLMEngine: the step loop. Everything below runs on the engine thread except submit/abort/stats/stop,
// which only touch the inbox and the published snapshots under mu_.
#include "engine/llm_engine.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "engine/stop_string_matcher.h"
#include "sched/model_inputs_builder.h"

namespace serval {

namespace {
using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

struct LLMEngine::Live {
  EngineRequest req;
  OutputCallback cb;
  RequestSampler sampler;
  IncrementalDetokenizer detok;
  StopStringMatcher stops;
  std::vector<int32_t> min_tokens_mask;  // ids kept from being sampled before min_tokens outputs
  bool queue_time_reported = false;
  std::vector<SampleResult> pending_logprobs;  // sampled since the last output (when params.logprobs >= 0)
  std::optional<double> queue_time_s;    // set when first scheduled

  Live(EngineRequest r, OutputCallback c, const Tokenizer& tok, const std::vector<int32_t>& eos_ids)
      : req(std::move(r)),
        cb(std::move(c)),
        sampler(req.params, req.prompt_ids),
        detok(tok, req.skip_special_tokens, req.prompt_ids),
        stops(req.stop, req.include_stop_str_in_output) {
    if (req.params.min_tokens > 0) {
      min_tokens_mask = req.params.stop_token_ids;
      if (!req.params.ignore_eos) min_tokens_mask.insert(min_tokens_mask.end(), eos_ids.begin(), eos_ids.end());
    }
  }
};

LLMEngine::LLMEngine(Model& model, const Tokenizer& tokenizer, LLMEngineConfig config)
    : model_(model),
      tokenizer_(tokenizer),
      config_(std::move(config)),
      kv_(model.kv_cache_shape(config_.kv.num_blocks, config_.kv.block_size)),
      scheduler_(config_.scheduler, config_.kv),
      last_log_(Clock::now()),
      seed_rng_(config_.seed.value_or(std::random_device{}())) {
  publish_stats();
  thread_ = std::thread([this] { run(); });
}

LLMEngine::~LLMEngine() { stop(); }

void LLMEngine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    inbox_.stop = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LLMEngine::submit(EngineRequest request, OutputCallback on_output) {
  {
    std::lock_guard lock(mu_);
    if (!stopped_) {
      inbox_.submitted.emplace_back(std::move(request), std::move(on_output));
      cv_.notify_all();
      return;
    }
  }
  // After stop(): every accepted request still ends, with an error.
  RequestOutput out;
  out.request_id = request.request_id;
  out.finished = true;
  out.finish_reason = FinishReason::Error;
  out.error_message = "the engine is shutting down";
  on_output(out);
}

void LLMEngine::abort(const std::string& request_id) {
  std::lock_guard lock(mu_);
  inbox_.aborted.push_back(request_id);
  cv_.notify_all();
}

EngineStats LLMEngine::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

EngineStepTimings LLMEngine::step_timings() const {
  std::lock_guard lock(mu_);
  return timings_;
}

void LLMEngine::run() {
  while (true) {
    const bool idle = !scheduler_.has_unfinished_requests();
    const bool keep_going = take_inbox(idle);
    deliver();
    if (!keep_going) break;
    if (!scheduler_.has_unfinished_requests()) continue;
    step();
    deliver();
    maybe_log_stats(Clock::now());
  }
  // Stopping: every live request ends with an abort.
  for (auto& [id, live] : live_) {
    scheduler_.abort_request(id);
    RequestOutput out;
    out.request_id = id;
    out.finished = true;
    out.finish_reason = FinishReason::Abort;
    pending_.emplace_back(std::move(live->cb), std::move(out));
  }
  live_.clear();
  deliver();
}

void LLMEngine::deliver() {
  // Stats first: a client that sees its request finish already sees it in /metrics.
  publish_stats();
  std::vector<std::pair<OutputCallback, RequestOutput>> batch = std::move(pending_);
  pending_.clear();
  for (auto& [cb, out] : batch) {
    try {
      cb(out);
    } catch (const std::exception& e) {
      spdlog::error("output callback for {} failed: {}", out.request_id, e.what());
    }
  }
}

bool LLMEngine::take_inbox(bool wait) {
  Inbox inbox;
  {
    std::unique_lock lock(mu_);
    if (wait)
      cv_.wait(lock, [&] { return inbox_.stop || !inbox_.submitted.empty() || !inbox_.aborted.empty(); });
    inbox.submitted = std::move(inbox_.submitted);
    inbox.aborted = std::move(inbox_.aborted);
    inbox_.submitted.clear();
    inbox_.aborted.clear();
    inbox.stop = inbox_.stop;
  }
  for (auto& [request, cb] : inbox.submitted) admit(std::move(request), std::move(cb));
  for (const std::string& id : inbox.aborted) {
    auto it = live_.find(id);
    if (it == live_.end()) continue;  // finished already, or never known
    scheduler_.abort_request(id);
    RequestOutput out;
    out.request_id = id;
    out.finished = true;
    out.finish_reason = FinishReason::Abort;
    out.num_prompt_tokens = static_cast<int>(it->second->req.prompt_ids.size());
    OutputCallback cb = std::move(it->second->cb);
    live_.erase(it);
    if (config_.log_requests) spdlog::info("Aborted request {}.", id);
    pending_.emplace_back(std::move(cb), std::move(out));
  }
  return !inbox.stop;
}

void LLMEngine::admit(EngineRequest request, OutputCallback cb) {
  const std::string id = request.request_id;
  auto fail = [&](const std::string& message) {
    RequestOutput out;
    out.request_id = id;
    out.finished = true;
    out.finish_reason = FinishReason::Error;
    out.error_message = message;
    pending_.emplace_back(std::move(cb), std::move(out));
  };
  try {
    request.params.validate();
    if (!request.params.seed) request.params.seed = seed_rng_();
    const int64_t vocab = model_.config().vocab_size;
    for (int32_t t : request.prompt_ids)
      check(t >= 0 && t < vocab, "token id " + std::to_string(t) + " in the prompt is outside the vocabulary [0, " +
                                     std::to_string(vocab) + ")");
    check(!live_.contains(id), "a request with id " + id + " is already running or waiting");
    StopCriteria stop;
    stop.max_tokens = request.params.max_tokens;
    stop.min_tokens = request.params.min_tokens;
    stop.eos_token_ids = config_.eos_token_ids;
    stop.stop_token_ids = request.params.stop_token_ids;
    stop.ignore_eos = request.params.ignore_eos;
    scheduler_.add_request(Request(id, request.prompt_ids, std::move(stop)));
  } catch (const Error& e) {
    fail(e.what());
    return;
  }
  if (config_.log_requests)
    spdlog::info("Added request {} ({} prompt tokens, max_tokens={}).", id, request.prompt_ids.size(),
                 request.params.max_tokens);
  live_.emplace(id, std::make_unique<Live>(std::move(request), std::move(cb), tokenizer_, config_.eos_token_ids));
}

void LLMEngine::step() {
  const Clock::time_point t0 = Clock::now();
  const SchedulerOutput out = scheduler_.schedule();
  for (const RequestId& id : out.preempted_request_ids)
    spdlog::warn(
        "Request {} was preempted (recompute) because there is not enough KV cache space; running: {} reqs, "
        "total_num_cumulative_preemption={}. This can affect the end-to-end performance. Increase "
        "--gpu-memory-utilization or --kv-cache-memory to provide more KV cache memory.",
        id, out.num_running, scheduler_.stats().num_preemptions);
  if (out.empty()) {
    // Nothing can run now (should not happen with requests live); do not spin.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(1));
    return;
  }
  for (const ScheduledRequest& s : out.scheduled) {
    if (s.kind != ScheduleKind::New) continue;
    auto it = live_.find(s.request_id);
    if (it != live_.end() && !it->second->queue_time_s)
      it->second->queue_time_s = seconds(t0 - it->second->req.arrival_time);
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string plan;
    for (const ScheduledRequest& s : out.scheduled)
      plan += fmt::format(" {}:{}+{}{}", s.request_id, s.num_computed_tokens, s.num_tokens, s.produces_logits ? "*" : "");
    spdlog::debug("step: running {} waiting {}; scheduled{}", out.num_running, out.num_waiting, plan);
  }
  const ModelInputs inputs = build_model_inputs(out);
  const Clock::time_point t1 = Clock::now();

  std::vector<std::vector<int32_t>> sampled(out.scheduled.size());
  try {
    model_.forward(inputs, kv_, model_out_);
  } catch (const std::exception& e) {
    // Every scheduled request ends with the error; the scheduler then skips them in the update.
    spdlog::error("model forward failed: {}", e.what());
    for (const ScheduledRequest& s : out.scheduled) finish_with_error(s.request_id, e.what());
    scheduler_.update_from_output(out, sampled);
    return;
  }
  const Clock::time_point t2 = Clock::now();

  // Sample every request whose step reached the end of its known tokens (row k of the logits).
  std::vector<size_t> rows;  // logits row -> scheduled entry
  for (size_t i = 0; i < out.scheduled.size(); ++i)
    if (out.scheduled[i].produces_logits) rows.push_back(i);
  std::vector<SampleResult> samples(rows.size());
  const int64_t vocab = model_out_.vocab_size;
  auto sample_rows = [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const ScheduledRequest& s = out.scheduled[rows[static_cast<size_t>(k)]];
      Live& live = *live_.at(s.request_id);
      const Request* r = scheduler_.find_request(s.request_id);
      float* logits = model_out_.logits.data() + k * vocab;
      if (r->num_output_tokens() < live.req.params.min_tokens)
        for (int32_t id : live.min_tokens_mask)
          if (id >= 0 && id < vocab) logits[id] = -std::numeric_limits<float>::infinity();
      samples[static_cast<size_t>(k)] =
          live.sampler.sample(std::span<const float>(logits, static_cast<size_t>(vocab)), r->output_token_ids);
    }
  };
  if (rows.size() >= 4) global_thread_pool().parallel_for(static_cast<int64_t>(rows.size()), sample_rows);
  else sample_rows(0, static_cast<int64_t>(rows.size()));
  for (size_t k = 0; k < rows.size(); ++k) {
    const ScheduledRequest& s = out.scheduled[rows[k]];
    sampled[rows[k]] = {samples[k].token_id};
    Live& live = *live_.at(s.request_id);
    if (live.req.params.logprobs >= 0) live.pending_logprobs.push_back(std::move(samples[k]));
  }
  const Clock::time_point t3 = Clock::now();

  const std::vector<RequestUpdate> updates = scheduler_.update_from_output(out, sampled);
  emit_updates(updates);
  const Clock::time_point t4 = Clock::now();

  local_timings_.num_steps += 1;
  local_timings_.num_tokens += out.total_num_scheduled_tokens;
  local_timings_.schedule_s += seconds(t1 - t0);
  local_timings_.forward_s += seconds(t2 - t1);
  local_timings_.sample_s += seconds(t3 - t2);
  local_timings_.update_s += seconds(t4 - t3);
}

void LLMEngine::emit_updates(const std::vector<RequestUpdate>& updates) {
  for (const RequestUpdate& u : updates) {
    auto it = live_.find(u.request_id);
    if (it == live_.end()) continue;
    Live& live = *it->second;
    RequestOutput o;
    o.request_id = u.request_id;
    o.new_token_ids = u.new_token_ids;
    o.num_prompt_tokens = u.num_prompt_tokens;
    o.num_output_tokens = u.num_output_tokens;
    o.num_cached_tokens = u.num_cached_tokens;
    if (!live.queue_time_reported) {
      o.queue_time_s = live.queue_time_s;
      live.queue_time_reported = true;
    }
    if (u.num_output_tokens == static_cast<int>(u.new_token_ids.size())) prompt_tokens_ += u.num_prompt_tokens;
    generation_tokens_ += u.new_token_ids.size();
    if (live.req.params.logprobs >= 0) o.new_logprobs = std::move(live.pending_logprobs);
    live.pending_logprobs.clear();

    // Text: every new token except a stop token (eos / stop id) that finished the request.
    const bool ended_by_stop_token = u.finished && u.status == RequestStatus::FinishedStopped;
    for (size_t j = 0; j < u.new_token_ids.size(); ++j) {
      if (ended_by_stop_token && j + 1 == u.new_token_ids.size()) break;
      o.new_text += live.stops.append(live.detok.add(u.new_token_ids[j]));
      if (live.stops.matched()) break;
    }
    if (!live.stops.matched() && u.finished) {
      o.new_text += live.stops.append(live.detok.flush());
      if (!live.stops.matched()) o.new_text += live.stops.flush();
    }

    if (live.stops.matched()) {
      o.finished = true;
      o.finish_reason = FinishReason::Stop;
      o.stop_reason = *live.stops.matched();
      if (!u.finished) scheduler_.finish_request(u.request_id, RequestStatus::FinishedStopped);
    } else if (u.finished) {
      o.finished = true;
      if (u.status == RequestStatus::FinishedLengthCapped) {
        o.finish_reason = FinishReason::Length;
      } else {
        o.finish_reason = FinishReason::Stop;
        if (u.stop_reason) o.stop_reason = *u.stop_reason;
      }
    }
    OutputCallback cb = o.finished ? std::move(live.cb) : live.cb;
    if (o.finished) {
      if (config_.log_requests)
        spdlog::info("Finished request {} ({}, {} output tokens).", u.request_id,
                     finish_reason_name(o.finish_reason), o.num_output_tokens);
      live_.erase(it);
    }
    pending_.emplace_back(std::move(cb), std::move(o));
  }
}

void LLMEngine::finish_with_error(const std::string& request_id, const std::string& message) {
  auto it = live_.find(request_id);
  if (it == live_.end()) return;
  scheduler_.finish_request(request_id, RequestStatus::FinishedAborted);
  RequestOutput out;
  out.request_id = request_id;
  out.finished = true;
  out.finish_reason = FinishReason::Error;
  out.error_message = message;
  OutputCallback cb = std::move(it->second->cb);
  live_.erase(it);
  pending_.emplace_back(std::move(cb), std::move(out));
}

void LLMEngine::publish_stats() {
  const SchedulerStats s = scheduler_.stats();
  std::lock_guard lock(mu_);
  stats_.num_requests_running = s.num_running;
  stats_.num_requests_waiting = s.num_waiting + static_cast<int>(inbox_.submitted.size());
  stats_.kv_cache_usage = s.kv_cache_usage;
  stats_.num_preemptions = static_cast<uint64_t>(s.num_preemptions);
  stats_.prefix_cache_queries = static_cast<uint64_t>(s.prefix_cache.queries);
  stats_.prefix_cache_hits = static_cast<uint64_t>(s.prefix_cache.hits);
  stats_.prompt_tokens = prompt_tokens_;
  stats_.generation_tokens = generation_tokens_;
  timings_ = local_timings_;
}

void LLMEngine::maybe_log_stats(Clock::time_point now) {
  if (config_.stats_log_interval_s <= 0) return;
  const double elapsed = seconds(now - last_log_);
  if (elapsed < config_.stats_log_interval_s) return;
  const SchedulerStats s = scheduler_.stats();
  const int64_t queries = s.prefix_cache.queries - logged_prefix_queries_;
  const int64_t hits = s.prefix_cache.hits - logged_prefix_hits_;
  spdlog::info(
      "Engine 000: Avg prompt throughput: {:.1f} tokens/s, Avg generation throughput: {:.1f} tokens/s, "
      "Running: {} reqs, Waiting: {} reqs, KV cache usage: {:.1f}%, Prefix cache hit rate: {:.1f}%",
      static_cast<double>(prompt_tokens_ - logged_prompt_tokens_) / elapsed,
      static_cast<double>(generation_tokens_ - logged_generation_tokens_) / elapsed, s.num_running, s.num_waiting,
      100.0 * s.kv_cache_usage, queries > 0 ? 100.0 * static_cast<double>(hits) / static_cast<double>(queries) : 0.0);
  last_log_ = now;
  logged_prompt_tokens_ = prompt_tokens_;
  logged_generation_tokens_ = generation_tokens_;
  logged_prefix_queries_ = s.prefix_cache.queries;
  logged_prefix_hits_ = s.prefix_cache.hits;
}

}  // namespace serval
