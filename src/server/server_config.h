// ServerConfig and ModelHooks: what `serval serve` hands the API server — HTTP settings, served names,
// limits, default sampling, and the tokenizer/chat-template functions of the loaded model.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/sampling_params.h"
#include "server/http_server.h"

namespace serval {

struct ServerConfig {
  HttpServerConfig http;                        // host, port, I/O threads, body limit, API keys, CORS
  std::vector<std::string> served_model_names;  // requests may name any; the first appears in responses
                                                // and as the model_name label of /metrics. Must be non-empty.
  std::string model_root;                       // "root" of /v1/models (the model path)
  int max_model_len = 2048;                     // prompt + output tokens per sequence
  int max_logprobs = 20;                        // cap on logprobs / top_logprobs (vLLM --max-logprobs)
  SamplingParams default_params;                // defaults for fields a request leaves out
                                                // (e.g. from generation_config.json); max_tokens is ignored
  std::string version = "0.1.0";                // GET /version
};

// The model's text functions. encode and decode are required; the others are optional.
struct ModelHooks {
  // text -> token ids; add_special_tokens adds BOS etc. as the tokenizer config says. May throw serval::Error.
  std::function<std::vector<int32_t>(const std::string& text, bool add_special_tokens)> encode;
  // token ids -> text (may end in a partial UTF-8 character when given a single token).
  std::function<std::string(const std::vector<int32_t>& ids, bool skip_special_tokens)> decode;
  // Renders OpenAI messages (content already flattened to strings) and tools (null when absent) to a
  // prompt string. Empty function: the model has no chat template and chat requests get 400.
  // May throw serval::Error (-> 400 with its message).
  std::function<std::string(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt)>
      apply_chat_template;
  int vocab_size = 0;  // > 0: prompt token ids and stop_token_ids are checked against it
};

}  // namespace serval
