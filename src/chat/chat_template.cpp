// ChatTemplate: loading from a model folder and rendering with transformers' variables and globals.
// NOTE: a Jinja subset is hand-written in chat/jinja/ because Debian ships no well-kept C++ Jinja
// library, and byte-exact agreement with Python Jinja2 needs control over every whitespace rule.
#include "chat/chat_template.h"

#include <filesystem>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/parser.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace serval {

namespace {

using jinja::CallArgs;
using jinja::RenderError;
using jinja::Value;
using jinja::ValueDict;

std::string token_string(const nlohmann::json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  throw Error(std::string("tokenizer_config.json: ") + key +
              " must be a string or an object with \"content\"");
}

// The chat_template field: a string, or a list of {"name", "template"} from which "default" is used.
std::optional<std::string> template_field(const nlohmann::json& value, const std::string& file) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    for (const auto& entry : value) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string())
        return entry["template"].get<std::string>();
    }
    throw Error(file + ": chat_template is a list of named templates without one named \"default\"");
  }
  throw Error(file + ": chat_template must be a string or a list of {name, template}");
}

nlohmann::json read_json(const std::string& path) {
  try {
    return nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
}

std::string strftime_string(const std::string& format, std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  std::string out(format.size() * 4 + 64, '\0');
  size_t n = std::strftime(out.data(), out.size(), format.c_str(), &tm);
  if (n == 0 && !format.empty()) throw RenderError("strftime_now: cannot format '" + format + "'");
  out.resize(n);
  return out;
}

// Jinja2's default globals that templates use, plus transformers' raise_exception and strftime_now.
void add_globals(ValueDict& globals, const std::function<std::time_t()>& now) {
  globals.set("raise_exception", Value::callable("raise_exception", [](const CallArgs& args) -> Value {
                const Value* msg = args.get("message", 0);
                throw RenderError(msg ? msg->str() : "raise_exception() called");
              }));
  globals.set("strftime_now", Value::callable("strftime_now", [now](const CallArgs& args) {
                const Value* fmt = args.get("format", 0);
                if (fmt == nullptr || !fmt->is_string())
                  throw RenderError("strftime_now() needs a format string");
                return Value(strftime_string(fmt->as_string(), now ? now() : std::time(nullptr)));
              }));
  globals.set("namespace", Value::callable("namespace", [](const CallArgs& args) {
                ValueDict attrs;
                for (const Value& p : args.positional) {
                  if (!p.is_dict()) throw RenderError("namespace() positional arguments must be mappings");
                  for (const auto& [k, v] : p.as_dict().items) attrs.set(k, v);
                }
                for (const auto& [k, v] : args.keyword) attrs.set(k, v);
                return Value::namespace_of(std::move(attrs));
              }));
  globals.set("dict", Value::callable("dict", [](const CallArgs& args) {
                ValueDict d;
                for (const Value& p : args.positional) {
                  if (!p.is_dict()) throw RenderError("dict() positional arguments must be mappings");
                  for (const auto& [k, v] : p.as_dict().items) d.set(k, v);
                }
                for (const auto& [k, v] : args.keyword) d.set(k, v);
                return Value(std::move(d));
              }));
  globals.set("range", Value::callable("range", [](const CallArgs& args) {
                int64_t start = 0, stop = 0, step = 1;
                auto as_int = [](const Value& v) {
                  if (!v.is_int() && !v.is_bool()) throw RenderError("range() arguments must be integers");
                  return v.as_int();
                };
                if (args.positional.size() == 1) {
                  stop = as_int(args.positional[0]);
                } else if (args.positional.size() == 2 || args.positional.size() == 3) {
                  start = as_int(args.positional[0]);
                  stop = as_int(args.positional[1]);
                  if (args.positional.size() == 3) step = as_int(args.positional[2]);
                } else {
                  throw RenderError("range() takes 1 to 3 arguments");
                }
                if (step == 0) throw RenderError("range() arg 3 must not be zero");
                jinja::ValueList out;
                for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                  if (out.size() >= 100000)
                    throw RenderError("range too big, the sandbox allows at most 100000 items");
                  out.emplace_back(i);
                }
                return Value(std::move(out));
              }));
}

template <typename Json>
std::string render_impl(const jinja::Template& tmpl, const std::string& bos, const std::string& eos,
                        const std::function<std::time_t()>& now, const Json& messages, const Json& tools,
                        bool add_generation_prompt, const Json& extra_context) {
  ValueDict globals;
  add_globals(globals, now);
  try {
    globals.set("messages", Value::from_json(messages));
    globals.set("tools", Value::from_json(tools));
    globals.set("documents", Value::none());
    globals.set("add_generation_prompt", Value(add_generation_prompt));
    if (!bos.empty()) globals.set("bos_token", Value(bos));
    if (!eos.empty()) globals.set("eos_token", Value(eos));
    if (!extra_context.is_null()) {
      if (!extra_context.is_object()) throw Error("chat template: extra context must be a JSON object");
      for (auto it = extra_context.begin(); it != extra_context.end(); ++it)
        globals.set(it.key(), Value::from_json(it.value()));
    }
  } catch (const RenderError& e) {
    throw Error(std::string("chat template input: ") + e.what());
  }
  try {
    return jinja::render_template(tmpl, globals);
  } catch (const RenderError& e) {
    throw Error("chat template line " + std::to_string(e.line) + ": " + e.what());
  }
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source, std::string bos_token, std::string eos_token)
    : source_(std::move(source)), bos_token_(std::move(bos_token)), eos_token_(std::move(eos_token)) {
  tmpl_ = jinja::parse_template(source_);
}

std::optional<ChatTemplate> ChatTemplate::from_model_dir(const std::string& model_dir) {
  namespace fs = std::filesystem;
  fs::path dir(model_dir);
  std::string config_path = (dir / "tokenizer_config.json").string();
  nlohmann::json config = nlohmann::json::object();
  if (fs::exists(config_path)) {
    config = read_json(config_path);
    if (!config.is_object()) throw Error(config_path + ": expected a JSON object");
  }
  std::optional<std::string> source;
  if (auto it = config.find("chat_template"); it != config.end()) source = template_field(*it, config_path);
  if (!source && fs::exists(dir / "chat_template.jinja"))
    source = read_text_file((dir / "chat_template.jinja").string());
  if (!source && fs::exists(dir / "chat_template.json")) {
    std::string path = (dir / "chat_template.json").string();
    nlohmann::json j = read_json(path);
    if (j.is_object() && j.contains("chat_template")) source = template_field(j["chat_template"], path);
  }
  if (!source) return std::nullopt;
  try {
    return ChatTemplate(*source, token_string(config, "bos_token"), token_string(config, "eos_token"));
  } catch (const Error& e) {
    throw Error(config_path + ": " + e.what());
  }
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool add_generation_prompt,
                                 const nlohmann::ordered_json& extra_context) const {
  return render_impl(*tmpl_, bos_token_, eos_token_, now_, messages, tools, add_generation_prompt,
                     extra_context);
}

std::string ChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& tools,
                                 bool add_generation_prompt, const nlohmann::json& extra_context) const {
  return render_impl(*tmpl_, bos_token_, eos_token_, now_, messages, tools, add_generation_prompt,
                     extra_context);
}

}  // namespace serval
