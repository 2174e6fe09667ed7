// OpenAI request types as plain structs, parsed and validated from JSON (with vLLM's extensions and
// messages), and the JSON builders for responses and stream chunks. No HTTP and no engine here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/sampling_params.h"

namespace serval {

using json = nlohmann::json;

// The request body as a JSON object. Throws ApiError 400 on invalid UTF-8, malformed JSON or a non-object.
json parse_json_body(const std::string& body);

// Byte offset of the first invalid UTF-8 sequence, or npos when s is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);

// Fields shared by /v1/completions and /v1/chat/completions.
struct GenerationOptions {
  std::string model;                   // empty when the client did not name one
  SamplingParams params;               // validated except max_tokens, which the route resolves
  std::optional<int> max_tokens;       // nullopt = remaining context (max_model_len - prompt length)
  int n = 1;                           // sequences per prompt
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage: final chunk with usage, choices: []
  bool continuous_usage_stats = false; // stream_options.continuous_usage_stats (vLLM): usage on every chunk
  std::vector<std::string> stop;       // stop strings, matched by the engine
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  std::optional<bool> add_special_tokens;  // nullopt = the route's default
};

struct PromptInput {
  bool is_text = true;
  std::string text;                // when is_text
  std::vector<int32_t> token_ids;  // when !is_text
};

struct CompletionRequest {
  GenerationOptions options;
  std::vector<PromptInput> prompts;  // one or more; each gets options.n choices
  bool echo = false;                 // prepend the prompt text to each choice
};

struct ChatCompletionRequest {
  GenerationOptions options;
  json messages;                       // array; each content flattened to a string (or null)
  json tools;                          // null when absent
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool logprobs = false;               // chat: bool; params.logprobs = top_logprobs when true
  int top_logprobs = 0;
};

struct TokenizeRequest {
  std::string model;
  bool has_messages = false;
  std::string prompt;                  // when !has_messages
  json messages;                       // when has_messages (normalized as for chat)
  bool add_generation_prompt = true;
  std::optional<bool> add_special_tokens;  // default: true for prompt, false for messages
  bool return_token_strs = false;
};

struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

// Each throws ApiError 400 naming the field and the bad value. `defaults` seed the sampling fields
// (e.g. from the model's generation_config); max_logprobs caps logprobs/top_logprobs (vLLM: 20).
CompletionRequest parse_completion_request(const json& body, const SamplingParams& defaults, int max_logprobs);
ChatCompletionRequest parse_chat_request(const json& body, const SamplingParams& defaults, int max_logprobs);
TokenizeRequest parse_tokenize_request(const json& body);
DetokenizeRequest parse_detokenize_request(const json& body);

// ---- response builders -----------------------------------------------------------------------

// One generated token as the logprobs fields show it.
struct TokenLogprobEntry {
  std::string token;    // decoded text of the token (may be a partial UTF-8 character)
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top;  // the top-k alternatives, best first
};

json usage_json(int prompt_tokens, int completion_tokens);
// Completions shape: {"text_offset","token_logprobs","tokens","top_logprobs"}; offsets start at first_offset
// (in characters, as Python's len counts them).
json completion_logprobs_json(const std::vector<TokenLogprobEntry>& entries, int first_offset);
// Chat shape: {"content":[{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}]}]}.
json chat_logprobs_json(const std::vector<TokenLogprobEntry>& entries);
// {"id","object","created","model",...} with system_fingerprint null; choices/usage filled by the caller.
json response_envelope(const char* object, const std::string& id, int64_t created, const std::string& model);
// Number of Unicode code points in s (Python len); invalid bytes count one each.
int count_code_points(std::string_view s);
// Serializes replacing invalid UTF-8 (token text can hold partial characters).
std::string dump_json(const json& j);

}  // namespace serval
