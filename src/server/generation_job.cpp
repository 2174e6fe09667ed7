#include "server/generation_job.h"

#include <spdlog/spdlog.h>

#include "server/api_errors.h"

namespace serval {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

nlohmann::json stop_reason_json(const std::optional<std::variant<int32_t, std::string>>& r) {
  if (!r) return nullptr;
  if (const auto* id = std::get_if<int32_t>(&*r)) return *id;
  return std::get<std::string>(*r);
}

nlohmann::json finish_reason_json(FinishReason r) {
  const char* name = finish_reason_name(r);
  if (!name) return nullptr;
  return name;
}

}  // namespace

GenerationJob::GenerationJob(ApiContext& ctx, std::shared_ptr<HttpExchange> exchange, Setup setup)
    : ctx_(ctx),
      exchange_(std::move(exchange)),
      setup_(std::move(setup)),
      sse_(exchange_),
      arrival_(std::chrono::steady_clock::now()) {}

void GenerationJob::start(ApiContext& ctx, const std::shared_ptr<HttpExchange>& exchange, Setup setup) {
  auto job = std::make_shared<GenerationJob>(ctx, exchange, std::move(setup));
  std::weak_ptr<GenerationJob> weak = job;
  exchange->attach(job);
  exchange->on_close([weak] {
    if (auto j = weak.lock()) j->on_client_gone();
  });

  const GenerationOptions& opt = job->setup_.options;
  const int n = opt.n;
  for (size_t p = 0; p < job->setup_.prompts.size(); ++p) {
    for (int i = 0; i < n; ++i) {
      Sequence seq;
      seq.index = static_cast<int>(p) * n + i;
      seq.prompt_index = static_cast<int>(p);
      seq.request_id = job->setup_.response_id + "-" + std::to_string(seq.index);
      seq.text_offset = count_code_points(job->setup_.prompts[p].echo_text);
      job->by_request_id_[seq.request_id] = job->seqs_.size();
      job->seqs_.push_back(std::move(seq));
    }
  }

  if (opt.stream) {
    job->sse_.begin();
    for (const Sequence& seq : job->seqs_) {
      if (job->setup_.kind == ApiKind::Chat) {
        nlohmann::json chunk = response_envelope("chat.completion.chunk", job->setup_.response_id,
                                                 job->setup_.created, ctx.model_name());
        chunk["choices"] = nlohmann::json::array({{{"index", seq.index},
                                                   {"delta", {{"role", "assistant"}, {"content", ""}}},
                                                   {"logprobs", nullptr},
                                                   {"finish_reason", nullptr}}});
        job->sse_.send(chunk);
      } else if (!job->setup_.prompts[seq.prompt_index].echo_text.empty()) {
        job->sse_.send(job->stream_chunk(seq, job->setup_.prompts[seq.prompt_index].echo_text, {}, false));
      }
    }
  }

  auto gate = exchange->gate();
  for (Sequence& seq : job->seqs_) {
    const PromptPlan& plan = job->setup_.prompts[seq.prompt_index];
    EngineRequest req;
    req.request_id = seq.request_id;
    req.prompt_ids = plan.prompt_ids;
    req.params = opt.params;
    req.params.max_tokens = plan.max_tokens;
    if (req.params.seed) *req.params.seed += static_cast<uint64_t>(seq.index % n);  // distinct samples for n > 1
    req.stop = opt.stop;
    req.include_stop_str_in_output = opt.include_stop_str_in_output;
    req.skip_special_tokens = opt.skip_special_tokens;
    req.arrival_time = job->arrival_;
    ctx.metrics.observe_request_params(n, plan.max_tokens);
    // Runs on the engine's thread: hand the output to the strand, unless the server is gone.
    OutputCallback callback = [gate, weak](const RequestOutput& out) {
      gate->run_if_open([&] {
        auto j = weak.lock();
        if (!j) return;
        // The lambda owns the job (and through it the exchange) while post() runs; this thread keeps nothing.
        HttpExchange& ex = *j->exchange_;
        ex.post([j = std::move(j), out] {
          try {
            j->on_output(out);
          } catch (const std::exception& e) {  // e.g. the tokenizer failed to decode a logprob token
            j->fail(500, "InternalServerError", e.what());
          }
        });
      });
    };
    try {
      ctx.engine.submit(std::move(req), std::move(callback));
    } catch (const std::exception& e) {
      job->fail(500, "InternalServerError", std::string("engine rejected the request: ") + e.what());
      return;
    }
  }
}

std::vector<TokenLogprobEntry> GenerationJob::logprob_entries(const std::vector<SampleResult>& results) const {
  std::vector<TokenLogprobEntry> out;
  out.reserve(results.size());
  for (const SampleResult& r : results) {
    TokenLogprobEntry e;
    e.token = ctx_.hooks.decode({r.token_id}, false);
    e.logprob = r.logprob;
    for (const TokenLogprob& t : r.top_logprobs) e.top.emplace_back(ctx_.hooks.decode({t.id}, false), t.logprob);
    out.push_back(std::move(e));
  }
  return out;
}

void GenerationJob::on_output(const RequestOutput& out) {
  if (done_) return;
  auto it = by_request_id_.find(out.request_id);
  if (it == by_request_id_.end()) return;
  Sequence& seq = seqs_[it->second];
  if (seq.finished) return;

  const auto now = std::chrono::steady_clock::now();
  if (out.queue_time_s) ctx_.metrics.observe_queue_time(*out.queue_time_s);
  if (!out.new_token_ids.empty()) {
    if (!seq.seen_first_token) ctx_.metrics.observe_ttft(seconds_between(arrival_, now));
    else ctx_.metrics.observe_inter_token_latency(seconds_between(seq.last_token_time, now));
    seq.seen_first_token = true;
    seq.last_token_time = now;
  }

  if (out.finished && out.finish_reason == FinishReason::Error) {
    seq.finished = true;
    fail(500, "InternalServerError",
         out.error_message.empty() ? "the engine failed while generating" : out.error_message);
    return;
  }

  std::vector<TokenLogprobEntry> new_logprobs;
  if (setup_.options.params.logprobs >= 0) new_logprobs = logprob_entries(out.new_logprobs);
  seq.text += out.new_text;
  seq.num_output_tokens = out.num_output_tokens;
  if (out.finished) {
    seq.finished = true;
    seq.finish_reason = out.finish_reason;
    seq.stop_reason = out.stop_reason;
    ++num_finished_;
    ctx_.metrics.observe_finished(out.finish_reason,
                                  static_cast<int>(setup_.prompts[seq.prompt_index].prompt_ids.size()),
                                  out.num_output_tokens, seconds_between(arrival_, now));
  }

  if (setup_.options.stream && (!out.new_text.empty() || !new_logprobs.empty() || out.finished))
    sse_.send(stream_chunk(seq, out.new_text, new_logprobs, out.finished));
  if (setup_.kind == ApiKind::Completion) {
    for (const auto& e : new_logprobs) seq.text_offset += count_code_points(e.token);
  }
  for (auto& e : new_logprobs) seq.logprobs.push_back(std::move(e));

  if (num_finished_ == static_cast<int>(seqs_.size())) finish_all();
}

nlohmann::json GenerationJob::stream_chunk(const Sequence& seq, const std::string& text,
                                           const std::vector<TokenLogprobEntry>& logprobs, bool finished) const {
  const bool chat = setup_.kind == ApiKind::Chat;
  nlohmann::json chunk =
      response_envelope(chat ? "chat.completion.chunk" : "text_completion", setup_.response_id, setup_.created,
                        ctx_.model_name());
  nlohmann::json choice = {{"index", seq.index}};
  nlohmann::json lp = nullptr;
  if (setup_.options.params.logprobs >= 0)
    lp = chat ? chat_logprobs_json(logprobs) : completion_logprobs_json(logprobs, seq.text_offset);
  if (chat) {
    choice["delta"] = text.empty() ? nlohmann::json::object() : nlohmann::json{{"content", text}};
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = lp;
  choice["finish_reason"] = finished ? finish_reason_json(seq.finish_reason) : nlohmann::json(nullptr);
  choice["stop_reason"] = finished ? stop_reason_json(seq.stop_reason) : nlohmann::json(nullptr);
  chunk["choices"] = nlohmann::json::array({choice});
  if (setup_.options.continuous_usage_stats) {
    chunk["usage"] = usage_json(static_cast<int>(setup_.prompts[seq.prompt_index].prompt_ids.size()),
                                seq.num_output_tokens);
  }
  return chunk;
}

int GenerationJob::prompt_tokens_total() const {
  int total = 0;
  for (const PromptPlan& p : setup_.prompts) total += static_cast<int>(p.prompt_ids.size());
  return total;
}

int GenerationJob::completion_tokens_total() const {
  int total = 0;
  for (const Sequence& s : seqs_) total += s.num_output_tokens;
  return total;
}

nlohmann::json GenerationJob::final_response() const {
  const bool chat = setup_.kind == ApiKind::Chat;
  nlohmann::json res =
      response_envelope(chat ? "chat.completion" : "text_completion", setup_.response_id, setup_.created,
                        ctx_.model_name());
  nlohmann::json choices = nlohmann::json::array();
  for (const Sequence& seq : seqs_) {
    nlohmann::json lp = nullptr;
    const std::string& echo = setup_.prompts[seq.prompt_index].echo_text;
    if (setup_.options.params.logprobs >= 0)
      lp = chat ? chat_logprobs_json(seq.logprobs) : completion_logprobs_json(seq.logprobs, count_code_points(echo));
    nlohmann::json choice = {{"index", seq.index}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", seq.text}, {"tool_calls", nlohmann::json::array()}};
    } else {
      choice["text"] = echo + seq.text;
    }
    choice["logprobs"] = lp;
    choice["finish_reason"] = finish_reason_json(seq.finish_reason);
    choice["stop_reason"] = stop_reason_json(seq.stop_reason);
    choices.push_back(std::move(choice));
  }
  res["choices"] = std::move(choices);
  res["usage"] = usage_json(prompt_tokens_total(), completion_tokens_total());
  return res;
}

void GenerationJob::finish_all() {
  done_ = true;
  if (setup_.options.stream) {
    if (setup_.options.include_usage) {
      nlohmann::json chunk = response_envelope(setup_.kind == ApiKind::Chat ? "chat.completion.chunk" : "text_completion",
                                               setup_.response_id, setup_.created, ctx_.model_name());
      chunk["choices"] = nlohmann::json::array();
      chunk["usage"] = usage_json(prompt_tokens_total(), completion_tokens_total());
      sse_.send(chunk);
    }
    sse_.done();
  } else {
    exchange_->respond(200, "application/json", dump_json(final_response()));
  }
}

void GenerationJob::abort_unfinished() {
  const auto now = std::chrono::steady_clock::now();
  for (Sequence& seq : seqs_) {
    if (seq.finished) continue;
    seq.finished = true;
    ctx_.metrics.observe_finished(FinishReason::Abort,
                                  static_cast<int>(setup_.prompts[seq.prompt_index].prompt_ids.size()),
                                  seq.num_output_tokens, seconds_between(arrival_, now));
    ctx_.engine.abort(seq.request_id);
  }
}

void GenerationJob::fail(int status, const std::string& type, const std::string& message) {
  if (done_) return;
  done_ = true;
  try {
    abort_unfinished();
  } catch (const std::exception& e) {
    spdlog::error("request {}: engine abort failed: {}", setup_.response_id, e.what());
  }
  spdlog::error("request {} failed: {}", setup_.response_id, message);
  if (setup_.options.stream) sse_.fail(status, type, message);
  else exchange_->respond(status, "application/json", error_body(status, type, message));
}

void GenerationJob::on_client_gone() {
  if (done_) return;
  done_ = true;
  spdlog::info("client went away; aborting request {}", setup_.response_id);
  try {
    abort_unfinished();
  } catch (const std::exception& e) {
    spdlog::error("request {}: engine abort failed: {}", setup_.response_id, e.what());
  }
}

}  // namespace serval
