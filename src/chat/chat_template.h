// ChatTemplate: renders a model's Jinja chat template exactly as transformers' apply_chat_template does
// (Python Jinja2, sandboxed, trim_blocks + lstrip_blocks, raise_exception / strftime_now globals,
// tojson keeping non-ASCII). The Jinja subset lives in chat/jinja/.
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace serval {

namespace jinja {
struct Template;
}

class ChatTemplate {
 public:
  // Parses source. A syntax error throws serval::Error naming the template line:
  // "chat template line 12: ... (column 5)". An empty bos/eos token leaves that variable undefined,
  // as transformers does for a token the tokenizer config does not set.
  explicit ChatTemplate(std::string source, std::string bos_token = "", std::string eos_token = "");

  // Reads tokenizer_config.json in model_dir: chat_template as a string, or a list of {name, template}
  // (the "default" one); falls back to chat_template.jinja / chat_template.json beside it.
  // bos_token / eos_token may be strings or {"content": ...} objects. Returns nullopt when there is no
  // template; throws serval::Error naming the file when it is malformed.
  static std::optional<ChatTemplate> from_model_dir(const std::string& model_dir);

  // Renders the conversation. Variables, as transformers passes them: messages, tools (null -> none,
  // which is defined; a list -> that list), documents (none), add_generation_prompt, bos_token,
  // eos_token, then every key of extra_context (e.g. enable_thinking, date_string), which may override
  // the others. Runtime errors and raise_exception(msg) throw serval::Error naming the template line.
  // NOTE: nlohmann::json sorts object keys; pass ordered_json to keep the request's key order, which
  // tojson prints (Python keeps insertion order).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt,
                     const nlohmann::ordered_json& extra_context = nlohmann::ordered_json::object()) const;
  std::string render(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt,
                     const nlohmann::json& extra_context = nlohmann::json::object()) const;

  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }

  // Replaces the clock strftime_now() reads (default: the current time), e.g. to make renders reproducible.
  void set_clock(std::function<std::time_t()> now) { now_ = std::move(now); }

 private:
  std::string source_;
  std::string bos_token_;
  std::string eos_token_;
  std::shared_ptr<const jinja::Template> tmpl_;
  std::function<std::time_t()> now_;
};

}  // namespace serval
