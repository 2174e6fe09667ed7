// GenerationJob: one /v1/completions or /v1/chat/completions request in flight — its engine requests
// (prompts x n), the outputs as they arrive, the SSE chunks or final JSON, usage, metrics, and the
// aborts when the client goes away. Lives on its exchange's strand.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/engine_request.h"
#include "server/http_server.h"
#include "server/protocol.h"
#include "server/routes.h"
#include "server/sse.h"

namespace serval {

enum class ApiKind { Completion, Chat };

// One tokenized prompt, ready to submit.
struct PromptPlan {
  std::vector<int32_t> prompt_ids;
  int max_tokens = 0;     // resolved: requested, or the remaining context
  std::string echo_text;  // prepended to every choice of this prompt (completions echo)
};

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  struct Setup {
    ApiKind kind = ApiKind::Completion;
    std::string response_id;  // cmpl-... / chatcmpl-...
    int64_t created = 0;
    GenerationOptions options;
    std::vector<PromptPlan> prompts;
  };

  // Submits prompts x n engine requests and answers the exchange when they finish (or streams them).
  // PRECONDITIONS: on the exchange's strand; setup validated; ctx outlives the job.
  static void start(ApiContext& ctx, const std::shared_ptr<HttpExchange>& exchange, Setup setup);

  GenerationJob(ApiContext& ctx, std::shared_ptr<HttpExchange> exchange, Setup setup);

 private:
  struct Sequence {
    std::string request_id;
    int index = 0;         // choice index: prompt_index * n + i
    int prompt_index = 0;
    std::string text;      // everything generated so far
    std::vector<TokenLogprobEntry> logprobs;
    int num_output_tokens = 0;
    int text_offset = 0;   // characters before the next logprobs entry (completions text_offset)
    bool finished = false;
    FinishReason finish_reason = FinishReason::None;
    std::optional<std::variant<int32_t, std::string>> stop_reason;
    bool seen_first_token = false;
    std::chrono::steady_clock::time_point last_token_time;
  };

  void on_output(const RequestOutput& out);
  void on_client_gone();
  void finish_all();
  void fail(int status, const std::string& type, const std::string& message);
  void abort_unfinished();
  nlohmann::json stream_chunk(const Sequence& seq, const std::string& text,
                              const std::vector<TokenLogprobEntry>& logprobs, bool finished) const;
  nlohmann::json final_response() const;
  std::vector<TokenLogprobEntry> logprob_entries(const std::vector<SampleResult>& results) const;
  int prompt_tokens_total() const;
  int completion_tokens_total() const;

  ApiContext& ctx_;
  std::shared_ptr<HttpExchange> exchange_;
  Setup setup_;
  SseStream sse_;
  std::vector<Sequence> seqs_;
  std::map<std::string, size_t> by_request_id_;
  std::chrono::steady_clock::time_point arrival_;
  int num_finished_ = 0;
  bool done_ = false;
};

}  // namespace serval
