#include "server/protocol.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "server/api_errors.h"

namespace serval {

namespace {

std::string describe(const json& v) {
  std::string s = dump_json(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return std::string(v.type_name()) + " " + s;
}

[[noreturn]] void type_error(const std::string& key, const char* expected, const json& v) {
  throw bad_request("'" + key + "' must be " + expected + ", got " + describe(v), key);
}

const json* field(const json& body, const std::string& key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> opt_number(const json& body, const std::string& key) {
  const json* v = field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) type_error(key, "a number", *v);
  return v->get<double>();
}

std::optional<int64_t> opt_int(const json& body, const std::string& key) {
  const json* v = field(body, key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      type_error(key, "an integer in range", *v);
    return v->get<int64_t>();
  }
  if (v->is_number_float()) {  // 5.0 is accepted as 5, like pydantic
    double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  type_error(key, "an integer", *v);
}

int opt_int32(const json& body, const std::string& key, int fallback) {
  auto v = opt_int(body, key);
  if (!v) return fallback;
  if (*v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max())
    throw bad_request("'" + key + "' is out of range, got " + std::to_string(*v), key);
  return static_cast<int>(*v);
}

std::optional<bool> opt_bool(const json& body, const std::string& key) {
  const json* v = field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) type_error(key, "a boolean", *v);
  return v->get<bool>();
}

std::string opt_string(const json& body, const std::string& key) {
  const json* v = field(body, key);
  if (!v) return {};
  if (!v->is_string()) type_error(key, "a string", *v);
  return v->get<std::string>();
}

std::vector<int32_t> token_list(const json& v, const std::string& key) {
  std::vector<int32_t> out;
  out.reserve(v.size());
  for (const auto& t : v) {
    if (!t.is_number_integer()) type_error(key, "a list of integer token ids", v);
    int64_t id = t.get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      throw bad_request("'" + key + "' holds an invalid token id " + std::to_string(id), key);
    out.push_back(static_cast<int32_t>(id));
  }
  return out;
}

// Fills the fields both generation routes share. max_tokens_default: value when the key is absent.
GenerationOptions parse_options(const json& body, const SamplingParams& defaults, std::optional<int> max_tokens_default,
                                bool chat) {
  GenerationOptions o;
  o.model = opt_string(body, "model");
  SamplingParams& p = o.params;
  p = defaults;
  if (auto v = opt_number(body, "temperature")) p.temperature = static_cast<float>(*v);
  if (auto v = opt_number(body, "top_p")) p.top_p = static_cast<float>(*v);
  if (auto v = opt_int(body, "top_k")) p.top_k = static_cast<int>(std::clamp<int64_t>(*v, -(1 << 30), 1 << 30));
  if (auto v = opt_number(body, "min_p")) p.min_p = static_cast<float>(*v);
  if (auto v = opt_number(body, "repetition_penalty")) p.repetition_penalty = static_cast<float>(*v);
  if (auto v = opt_number(body, "presence_penalty")) p.presence_penalty = static_cast<float>(*v);
  if (auto v = opt_number(body, "frequency_penalty")) p.frequency_penalty = static_cast<float>(*v);
  if (auto v = opt_int(body, "seed")) p.seed = static_cast<uint64_t>(*v);
  p.min_tokens = opt_int32(body, "min_tokens", 0);
  p.ignore_eos = opt_bool(body, "ignore_eos").value_or(false);
  if (const json* v = field(body, "stop_token_ids")) {
    if (!v->is_array()) type_error("stop_token_ids", "a list of integer token ids", *v);
    p.stop_token_ids = token_list(*v, "stop_token_ids");
  }

  // max_completion_tokens (chat, newer OpenAI name) wins over max_tokens.
  o.max_tokens = max_tokens_default;
  const char* max_key = "max_tokens";
  if (body.contains("max_tokens")) o.max_tokens = std::nullopt;
  if (auto v = opt_int(body, "max_tokens")) o.max_tokens = static_cast<int>(std::clamp<int64_t>(*v, -(1 << 30), 1 << 30));
  if (chat) {
    if (auto v = opt_int(body, "max_completion_tokens")) {
      o.max_tokens = static_cast<int>(std::clamp<int64_t>(*v, -(1 << 30), 1 << 30));
      max_key = "max_completion_tokens";
    }
  }
  if (o.max_tokens && *o.max_tokens < 1)
    throw bad_request(std::string(max_key) + " must be at least 1, got " + std::to_string(*o.max_tokens) + ".",
                      max_key);

  o.n = opt_int32(body, "n", 1);
  if (o.n < 1) throw bad_request("n must be at least 1, got " + std::to_string(o.n) + ".", "n");
  if (o.n > 128) throw bad_request("n must be at most 128, got " + std::to_string(o.n) + ".", "n");
  if (auto best_of = opt_int(body, "best_of"); best_of && *best_of != o.n && *best_of != 1)
    throw bad_request("best_of is not supported (vLLM V1 semantics); got " + std::to_string(*best_of), "best_of");

  o.stream = opt_bool(body, "stream").value_or(false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) type_error("stream_options", "an object", *so);
    if (!o.stream) throw bad_request("Stream options can only be defined when `stream=True`.", "stream_options");
    o.include_usage = opt_bool(*so, "include_usage").value_or(false);
    o.continuous_usage_stats = opt_bool(*so, "continuous_usage_stats").value_or(false);
  }

  if (const json* v = field(body, "stop")) {
    if (v->is_string()) {
      o.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      for (const auto& s : *v) {
        if (!s.is_string()) type_error("stop", "a string or a list of strings", *v);
        o.stop.push_back(s.get<std::string>());
      }
    } else {
      type_error("stop", "a string or a list of strings", *v);
    }
    std::erase_if(o.stop, [](const std::string& s) { return s.empty(); });
  }
  o.include_stop_str_in_output = opt_bool(body, "include_stop_str_in_output").value_or(false);
  o.skip_special_tokens = opt_bool(body, "skip_special_tokens").value_or(true);
  o.add_special_tokens = opt_bool(body, "add_special_tokens");

  if (const json* v = field(body, "logit_bias"); v && !(v->is_object() && v->empty()))
    throw bad_request("logit_bias is not supported by serval", "logit_bias");
  if (const json* v = field(body, "response_format")) {
    if (!v->is_object() || v->value("type", "") != "text")
      throw bad_request("response_format other than {\"type\": \"text\"} is not supported by serval",
                        "response_format");
  }
  return o;
}

void check_logprobs(int k, int max_logprobs, const char* key) {
  if (k < 0) throw bad_request(std::string(key) + " must be non-negative, got " + std::to_string(k), key);
  if (k > max_logprobs)
    throw bad_request("Requested sample logprobs of " + std::to_string(k) +
                          ", which is greater than max allowed: " + std::to_string(max_logprobs),
                      key);
}

// Validates the sampling fields; SamplingParams::validate() words the messages.
void validate_params(GenerationOptions& o) {
  SamplingParams p = o.params;
  p.max_tokens = o.max_tokens.value_or(std::max(1, p.min_tokens));
  try {
    p.validate();
  } catch (const Error& e) {
    throw bad_request(e.what());
  }
}

json normalize_messages(const json& body, const char* key) {
  const json* v = field(body, key);
  if (!v) throw bad_request(std::string("'") + key + "' is required", key);
  if (!v->is_array()) type_error(key, "a list of messages", *v);
  if (v->empty()) throw bad_request(std::string("'") + key + "' must be a non-empty list", key);
  json out = json::array();
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    if (!m.is_object()) type_error(where, "an object", m);
    if (!m.contains("role") || !m["role"].is_string()) throw bad_request(where + ".role must be a string", key);
    json msg = m;
    if (m.contains("content")) {
      const json& c = m["content"];
      if (c.is_array()) {  // content parts: keep the text parts, joined by newlines as vLLM does
        std::string text;
        for (const auto& part : c) {
          if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
              !part["text"].is_string()) {
            std::string type = part.is_object() ? part.value("type", "?") : std::string(part.type_name());
            throw bad_request(where + ".content part of type '" + type + "' is not supported (text only)", key);
          }
          if (!text.empty()) text += "\n";
          text += part["text"].get<std::string>();
        }
        msg["content"] = text;
      } else if (!c.is_string() && !c.is_null()) {
        type_error(where + ".content", "a string, a list of content parts or null", c);
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

size_t find_invalid_utf8(std::string_view s) {
  // NOTE: hand-written because we want the offset for the error message; nlohmann only says "ill-formed".
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return i;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

int count_code_points(std::string_view s) {
  int n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_json_body(const std::string& body) {
  if (size_t bad = find_invalid_utf8(body); bad != std::string::npos)
    throw bad_request("request body is not valid UTF-8 (invalid byte at offset " + std::to_string(bad) + ")");
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    throw bad_request(std::string("request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw bad_request("request body must be a JSON object, got " + std::string(j.type_name()));
  return j;
}

CompletionRequest parse_completion_request(const json& body, const SamplingParams& defaults, int max_logprobs) {
  CompletionRequest r;
  // vLLM's CompletionRequest: max_tokens defaults to 16; an explicit null means "the rest of the context".
  r.options = parse_options(body, defaults, 16, /*chat=*/false);
  const json* prompt = field(body, "prompt");
  if (!prompt) throw bad_request("'prompt' is required", "prompt");
  const char* shape = "a string, a list of strings, a list of token ids or a list of lists of token ids";
  auto empty_error = [] { return bad_request("prompt cannot be empty", "prompt"); };
  if (prompt->is_string()) {
    if (prompt->get<std::string>().empty()) throw empty_error();
    r.prompts.push_back({true, prompt->get<std::string>(), {}});
  } else if (prompt->is_array()) {
    if (prompt->empty()) throw empty_error();
    const json& first = (*prompt)[0];
    if (first.is_number_integer()) {
      r.prompts.push_back({false, {}, token_list(*prompt, "prompt")});
    } else {
      for (const auto& item : *prompt) {
        if (item.is_string()) {
          if (item.get<std::string>().empty()) throw empty_error();
          r.prompts.push_back({true, item.get<std::string>(), {}});
        } else if (item.is_array()) {
          if (item.empty()) throw empty_error();
          r.prompts.push_back({false, {}, token_list(item, "prompt")});
        } else {
          type_error("prompt", shape, *prompt);
        }
      }
    }
  } else {
    type_error("prompt", shape, *prompt);
  }
  r.echo = opt_bool(body, "echo").value_or(false);
  if (field(body, "suffix")) throw bad_request("suffix is not supported by serval", "suffix");
  if (auto k = opt_int(body, "logprobs")) {
    check_logprobs(static_cast<int>(std::clamp<int64_t>(*k, -(1 << 30), 1 << 30)), max_logprobs, "logprobs");
    r.options.params.logprobs = static_cast<int>(*k);
    if (r.echo) throw bad_request("echo together with logprobs (prompt logprobs) is not supported by serval", "echo");
  } else {
    r.options.params.logprobs = -1;
  }
  validate_params(r.options);
  return r;
}

ChatCompletionRequest parse_chat_request(const json& body, const SamplingParams& defaults, int max_logprobs) {
  ChatCompletionRequest r;
  r.options = parse_options(body, defaults, std::nullopt, /*chat=*/true);
  r.messages = normalize_messages(body, "messages");
  if (const json* t = field(body, "tools")) {
    if (!t->is_array()) type_error("tools", "a list of tool definitions", *t);
    r.tools = *t;
  }
  r.add_generation_prompt = opt_bool(body, "add_generation_prompt").value_or(true);
  r.continue_final_message = opt_bool(body, "continue_final_message").value_or(false);
  if (r.add_generation_prompt && r.continue_final_message)
    throw bad_request("Cannot set both `continue_final_message` and `add_generation_prompt` to True.",
                      "continue_final_message");
  r.logprobs = opt_bool(body, "logprobs").value_or(false);
  auto top = opt_int(body, "top_logprobs");
  if (top && !r.logprobs && *top > 0)
    throw bad_request("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs");
  r.top_logprobs = top ? static_cast<int>(std::clamp<int64_t>(*top, -(1 << 30), 1 << 30)) : 0;
  if (r.logprobs) check_logprobs(r.top_logprobs, max_logprobs, "top_logprobs");
  r.options.params.logprobs = r.logprobs ? r.top_logprobs : -1;
  validate_params(r.options);
  return r;
}

TokenizeRequest parse_tokenize_request(const json& body) {
  TokenizeRequest r;
  r.model = opt_string(body, "model");
  if (field(body, "messages")) {
    r.has_messages = true;
    r.messages = normalize_messages(body, "messages");
    r.add_generation_prompt = opt_bool(body, "add_generation_prompt").value_or(true);
  } else {
    const json* p = field(body, "prompt");
    if (!p) throw bad_request("'prompt' or 'messages' is required", "prompt");
    if (!p->is_string()) type_error("prompt", "a string", *p);
    r.prompt = p->get<std::string>();
  }
  r.add_special_tokens = opt_bool(body, "add_special_tokens");
  r.return_token_strs = opt_bool(body, "return_token_strs").value_or(false);
  return r;
}

DetokenizeRequest parse_detokenize_request(const json& body) {
  DetokenizeRequest r;
  r.model = opt_string(body, "model");
  const json* t = field(body, "tokens");
  if (!t) throw bad_request("'tokens' is required", "tokens");
  if (!t->is_array()) type_error("tokens", "a list of integer token ids", *t);
  r.tokens = token_list(*t, "tokens");
  return r;
}

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"completion_tokens", completion_tokens},
          {"prompt_tokens_details", nullptr}};
}

json completion_logprobs_json(const std::vector<TokenLogprobEntry>& entries, int first_offset) {
  json offsets = json::array(), lps = json::array(), tokens = json::array(), tops = json::array();
  int offset = first_offset;
  for (const auto& e : entries) {
    offsets.push_back(offset);
    offset += count_code_points(e.token);
    lps.push_back(e.logprob);
    tokens.push_back(e.token);
    json top = json::object();
    for (const auto& [tok, lp] : e.top) top[tok] = lp;
    top[e.token] = e.logprob;  // the sampled token is always listed, as in vLLM
    tops.push_back(std::move(top));
  }
  return {{"text_offset", offsets}, {"token_logprobs", lps}, {"tokens", tokens}, {"top_logprobs", tops}};
}

json chat_logprobs_json(const std::vector<TokenLogprobEntry>& entries) {
  auto bytes_of = [](const std::string& s) {
    json b = json::array();
    for (char c : s) b.push_back(static_cast<unsigned char>(c));
    return b;
  };
  json content = json::array();
  for (const auto& e : entries) {
    json top = json::array();
    for (const auto& [tok, lp] : e.top) top.push_back({{"token", tok}, {"logprob", lp}, {"bytes", bytes_of(tok)}});
    content.push_back({{"token", e.token}, {"logprob", e.logprob}, {"bytes", bytes_of(e.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json response_envelope(const char* object, const std::string& id, int64_t created, const std::string& model) {
  return {{"id", id}, {"object", object}, {"created", created}, {"model", model}, {"system_fingerprint", nullptr}};
}

}  // namespace serval
