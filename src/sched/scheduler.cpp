// Scheduler: one schedule() = running requests first (preempting the newest when KV runs out), then
// waiting requests in FCFS order with prefix-cache hits, all under the step's token and sequence budgets.
#include "sched/scheduler.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/error.h"

namespace serval {

namespace {
std::string num(int64_t v) {
  return std::to_string(v);
}
}  // namespace

void SchedulerConfig::validate() const {
  check(max_num_seqs > 0, "max_num_seqs must be > 0, got " + num(max_num_seqs));
  check(max_num_batched_tokens > 0, "max_num_batched_tokens must be > 0, got " + num(max_num_batched_tokens));
  check(max_model_len > 0, "max_model_len must be > 0, got " + num(max_model_len));
  check(max_num_batched_tokens >= max_num_seqs, "max_num_batched_tokens (" + num(max_num_batched_tokens) +
                                                    ") must be greater than or equal to max_num_seqs (" +
                                                    num(max_num_seqs) + ").");
  check(enable_chunked_prefill || max_num_batched_tokens >= max_model_len,
        "max_num_batched_tokens (" + num(max_num_batched_tokens) + ") is smaller than max_model_len (" +
            num(max_model_len) +
            "). With chunked prefill disabled this would reject longer prompts; increase "
            "max_num_batched_tokens or decrease max_model_len.");
}

Scheduler::Scheduler(const SchedulerConfig& config, const KvCacheConfig& kv_config)
    : config_(config), kv_((config.validate(), kv_config)) {
  const int64_t per_request =
      (int64_t{config_.max_model_len} + kv_config.block_size - 1) / kv_config.block_size;
  check(per_request <= kv_.pool().num_usable_blocks(),
        "The KV cache has " + num(kv_.pool().num_usable_blocks()) + " usable blocks of " +
            num(kv_config.block_size) + " tokens, fewer than the " + num(per_request) +
            " one request of max_model_len (" + num(config_.max_model_len) +
            ") needs; increase the KV cache memory or decrease max_model_len.");
}

void Scheduler::add_request(Request request) {
  const RequestId& id = request.request_id;
  check(!request.prompt_token_ids.empty(), "The prompt of request " + id + " is empty.");
  check(request.num_prompt_tokens() <= config_.max_model_len,
        "The decoder prompt (length " + num(request.num_prompt_tokens()) +
            ") is longer than the maximum model length of " + num(config_.max_model_len) + ".");
  check(config_.enable_chunked_prefill || request.num_prompt_tokens() <= config_.max_num_batched_tokens,
        "The prompt (length " + num(request.num_prompt_tokens()) +
            ") is longer than max_num_batched_tokens (" + num(config_.max_num_batched_tokens) +
            ") and chunked prefill is disabled.");
  check(request.stop.max_tokens >= 1, "max_tokens must be at least 1, got " + num(request.stop.max_tokens));
  check(!requests_.contains(id), "A request with id " + id + " is already running or waiting.");
  check(request.output_token_ids.empty() && request.num_computed_tokens == 0 &&
            request.all_token_ids == request.prompt_token_ids,
        "Request " + id + " must be new (no outputs, no computed tokens).");
  request.status = RequestStatus::Waiting;
  auto owned = std::make_unique<Request>(std::move(request));
  waiting_.push_back(owned.get());
  requests_.emplace(owned->request_id, std::move(owned));
}

ScheduledRequest Scheduler::make_scheduled(const Request& r, ScheduleKind kind, int num_tokens) const {
  ScheduledRequest s;
  s.request_id = r.request_id;
  s.kind = kind;
  s.num_computed_tokens = r.num_computed_tokens;
  s.num_tokens = num_tokens;
  const auto begin = r.all_token_ids.begin() + r.num_computed_tokens;
  s.token_ids.assign(begin, begin + num_tokens);
  s.block_ids = kv_.block_ids(r.request_id);
  s.produces_logits = r.num_computed_tokens + num_tokens == r.num_tokens();
  return s;
}

void Scheduler::preempt(Request& r) {
  kv_.free(r.request_id);
  r.status = RequestStatus::Preempted;
  r.num_computed_tokens = 0;  // recompute: prompt and outputs so far are prefilled again on resume
  ++r.num_preemptions;
  ++num_preemptions_;
  waiting_.push_front(&r);
}

SchedulerOutput Scheduler::schedule() {
  if (awaiting_update_) throw std::logic_error("schedule() called before update_from_output()");
  SchedulerOutput out;
  out.finished_request_ids = std::move(finished_ids_);
  finished_ids_.clear();
  int budget = config_.max_num_batched_tokens;

  // 1. Running requests, in order. When KV runs out, preempt the newest running request (possibly this one).
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Request* r = running_[i];
    const int n = std::min(r->num_tokens() - r->num_computed_tokens, budget);
    if (n <= 0) {
      ++i;
      continue;
    }
    bool allocated = false;
    while (!allocated) {
      allocated = kv_.allocate_slots(r->request_id, r->all_token_ids, r->num_computed_tokens, n);
      if (allocated) break;
      Request* victim = running_.back();  // never one already scheduled this step: those are at < i
      running_.pop_back();
      preempt(*victim);
      out.preempted_request_ids.push_back(victim->request_id);
      if (victim == r) break;
    }
    if (!allocated) break;
    out.scheduled.push_back(make_scheduled(*r, ScheduleKind::Running, n));
    budget -= n;
    ++i;
  }

  // 2. Waiting requests in FCFS order, only when nothing was preempted this step (as vLLM).
  std::vector<Request*> skipped;  // chunked prefill off: prompts that do not fit this step keep their place
  while (out.preempted_request_ids.empty() && !waiting_.empty() && budget > 0 &&
         num_running() < config_.max_num_seqs) {
    Request* r = waiting_.front();
    const CachedPrefix prefix = kv_.get_computed_blocks(r->all_token_ids);
    int n = r->num_tokens() - prefix.num_tokens;
    if (!config_.enable_chunked_prefill && n > budget) {
      waiting_.pop_front();
      skipped.push_back(r);
      continue;
    }
    n = std::min(n, budget);
    if (!kv_.allocate_slots(r->request_id, r->all_token_ids, 0, n, &prefix)) break;  // head-of-line waits
    waiting_.pop_front();
    const ScheduleKind kind =
        r->status == RequestStatus::Preempted ? ScheduleKind::Resumed : ScheduleKind::New;
    r->status = RequestStatus::Running;
    r->num_computed_tokens = prefix.num_tokens;
    if (r->num_cached_tokens < 0) r->num_cached_tokens = prefix.num_tokens;
    running_.push_back(r);
    out.scheduled.push_back(make_scheduled(*r, kind, n));
    budget -= n;
  }
  waiting_.insert(waiting_.begin(), skipped.begin(), skipped.end());

  out.total_num_scheduled_tokens = config_.max_num_batched_tokens - budget;
  out.num_running = num_running();
  out.num_waiting = num_waiting();
  awaiting_update_ = !out.scheduled.empty();
  return out;
}

void Scheduler::remove_finished(Request& r, RequestStatus status) {
  r.status = status;
  kv_.free(r.request_id);
  std::erase(running_, &r);
  std::erase(waiting_, &r);
  finished_ids_.push_back(r.request_id);
}

std::vector<RequestUpdate> Scheduler::update_from_output(const SchedulerOutput& output,
                                                         const std::vector<std::vector<int32_t>>& sampled) {
  if (!awaiting_update_) throw std::logic_error("update_from_output() without a pending schedule()");
  if (sampled.size() != output.scheduled.size())
    throw std::logic_error("update_from_output: " + num(sampled.size()) + " sampled entries for " +
                           num(output.scheduled.size()) + " scheduled requests");
  awaiting_update_ = false;
  std::vector<RequestUpdate> results;
  for (size_t i = 0; i < output.scheduled.size(); ++i) {
    const ScheduledRequest& s = output.scheduled[i];
    auto it = requests_.find(s.request_id);
    if (it == requests_.end()) continue;  // aborted while the step ran
    Request& r = *it->second;
    if (r.status != RequestStatus::Running || r.num_computed_tokens != s.num_computed_tokens) continue;
    if (s.produces_logits != (sampled[i].size() == 1))
      throw std::logic_error("update_from_output: request " + s.request_id + " needs " +
                             (s.produces_logits ? "one sampled token" : "no sampled token"));
    r.num_computed_tokens += s.num_tokens;
    kv_.cache_blocks(r.request_id, r.all_token_ids, r.num_computed_tokens);
    if (!s.produces_logits) continue;

    RequestUpdate ro;
    ro.request_id = r.request_id;
    r.append_output_token(sampled[i][0]);
    ro.new_token_ids.push_back(sampled[i][0]);
    ro.finished = check_stop(r, config_.max_model_len);
    ro.status = r.status;
    ro.stop_reason = r.stop_reason;
    ro.num_prompt_tokens = r.num_prompt_tokens();
    ro.num_output_tokens = r.num_output_tokens();
    ro.num_cached_tokens = std::max(r.num_cached_tokens, 0);
    if (ro.finished) {
      remove_finished(r, r.status);
      requests_.erase(it);
    }
    results.push_back(std::move(ro));
  }
  return results;
}

bool Scheduler::finish_request(const RequestId& request_id, RequestStatus finished_status) {
  if (!is_finished(finished_status))
    throw std::logic_error("finish_request with non-finished status " +
                           std::string(status_name(finished_status)));
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return false;
  remove_finished(*it->second, finished_status);
  requests_.erase(it);
  return true;
}

const Request* Scheduler::find_request(const RequestId& request_id) const {
  auto it = requests_.find(request_id);
  return it == requests_.end() ? nullptr : it->second.get();
}

SchedulerStats Scheduler::stats() const {
  return SchedulerStats{.num_running = num_running(),
                        .num_waiting = num_waiting(),
                        .kv_cache_usage = kv_.usage(),
                        .prefix_cache = kv_.prefix_cache_stats(),
                        .num_preemptions = num_preemptions_};
}

}  // namespace serval
