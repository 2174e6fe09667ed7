#include "server/routes.h"

#include <algorithm>
#include <random>

#include "core/error.h"
#include "server/api_errors.h"
#include "server/generation_job.h"
#include "server/protocol.h"

namespace serval {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = digits[rng() & 15];
  return s;
}

void respond_json(const std::shared_ptr<HttpExchange>& ex, const json& body, int status = 200) {
  ex->respond(status, "application/json", dump_json(body));
}

void check_model(const ApiContext& ctx, const std::string& model) {
  if (model.empty()) return;
  const auto& names = ctx.config.served_model_names;
  if (std::find(names.begin(), names.end(), model) == names.end())
    throw not_found("The model `" + model + "` does not exist.");
}

void check_vocab(const ApiContext& ctx, const std::vector<int32_t>& ids, const char* field) {
  if (ctx.hooks.vocab_size <= 0) return;
  for (int32_t id : ids)
    if (id >= ctx.hooks.vocab_size)
      throw bad_request("token id " + std::to_string(id) + " in '" + field + "' is out of vocabulary (vocab size " +
                            std::to_string(ctx.hooks.vocab_size) + ")",
                        field);
}

std::vector<int32_t> encode(const ApiContext& ctx, const std::string& text, bool add_special_tokens) {
  try {
    return ctx.hooks.encode(text, add_special_tokens);
  } catch (const Error& e) {
    throw bad_request(std::string("cannot tokenize the prompt: ") + e.what());
  }
}

std::string render_chat(const ApiContext& ctx, const json& messages, const json& tools, bool add_generation_prompt) {
  if (!ctx.hooks.apply_chat_template)
    throw bad_request("this model has no chat template; pass --chat-template");
  try {
    return ctx.hooks.apply_chat_template(messages, tools, add_generation_prompt);
  } catch (const Error& e) {
    throw bad_request(std::string("cannot apply the chat template: ") + e.what());
  }
}

// vLLM's length check, with its wording; returns the resolved max_tokens.
int resolve_max_tokens(const ApiContext& ctx, int prompt_len, const GenerationOptions& opt) {
  const int max_len = ctx.config.max_model_len;
  const std::string head = "This model's maximum context length is " + std::to_string(max_len) + " tokens. ";
  if (!opt.max_tokens) {
    if (prompt_len >= max_len)
      throw bad_request(head + "However, you requested " + std::to_string(prompt_len) +
                        " tokens in the messages, Please reduce the length of the messages.");
    return max_len - prompt_len;
  }
  const int64_t total = static_cast<int64_t>(prompt_len) + *opt.max_tokens;
  if (total > max_len)
    throw bad_request(head + "However, you requested " + std::to_string(total) + " tokens (" +
                      std::to_string(prompt_len) + " in the messages, " + std::to_string(*opt.max_tokens) +
                      " in the completion). Please reduce the length of the messages or completion.");
  return *opt.max_tokens;
}

PromptPlan plan_prompt(const ApiContext& ctx, std::vector<int32_t> ids, const GenerationOptions& opt) {
  if (ids.empty()) throw bad_request("the prompt tokenized to zero tokens", "prompt");
  PromptPlan plan;
  plan.max_tokens = resolve_max_tokens(ctx, static_cast<int>(ids.size()), opt);
  if (opt.params.min_tokens > plan.max_tokens)
    throw bad_request("min_tokens must be less than or equal to max_tokens=" + std::to_string(plan.max_tokens) +
                          ", got " + std::to_string(opt.params.min_tokens),
                      "min_tokens");
  plan.prompt_ids = std::move(ids);
  return plan;
}

json parse_body(const std::shared_ptr<HttpExchange>& ex) { return parse_json_body(ex->request().body); }

void completions(ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
  json body = parse_body(ex);
  CompletionRequest req = parse_completion_request(body, ctx.config.default_params, ctx.config.max_logprobs);
  check_model(ctx, req.options.model);
  check_vocab(ctx, req.options.params.stop_token_ids, "stop_token_ids");
  GenerationJob::Setup setup;
  setup.kind = ApiKind::Completion;
  setup.response_id = "cmpl-" + random_hex(32);
  setup.created = unix_now();
  const bool add_special = req.options.add_special_tokens.value_or(true);
  for (const PromptInput& p : req.prompts) {
    std::vector<int32_t> ids = p.is_text ? encode(ctx, p.text, add_special) : p.token_ids;
    if (!p.is_text) check_vocab(ctx, ids, "prompt");
    PromptPlan plan = plan_prompt(ctx, std::move(ids), req.options);
    if (req.echo) plan.echo_text = p.is_text ? p.text : ctx.hooks.decode(plan.prompt_ids, req.options.skip_special_tokens);
    setup.prompts.push_back(std::move(plan));
  }
  setup.options = std::move(req.options);
  GenerationJob::start(ctx, ex, std::move(setup));
}

void chat_completions(ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
  json body = parse_body(ex);
  ChatCompletionRequest req = parse_chat_request(body, ctx.config.default_params, ctx.config.max_logprobs);
  check_model(ctx, req.options.model);
  check_vocab(ctx, req.options.params.stop_token_ids, "stop_token_ids");
  if (req.continue_final_message)
    throw bad_request("continue_final_message is not supported by serval", "continue_final_message");
  std::string prompt = render_chat(ctx, req.messages, req.tools, req.add_generation_prompt);
  // The template already holds BOS and friends, so no special tokens by default (as vLLM).
  std::vector<int32_t> ids = encode(ctx, prompt, req.options.add_special_tokens.value_or(false));
  GenerationJob::Setup setup;
  setup.kind = ApiKind::Chat;
  setup.response_id = "chatcmpl-" + random_hex(32);
  setup.created = unix_now();
  setup.prompts.push_back(plan_prompt(ctx, std::move(ids), req.options));
  setup.options = std::move(req.options);
  GenerationJob::start(ctx, ex, std::move(setup));
}

void models(ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
  json data = json::array();
  for (const std::string& name : ctx.config.served_model_names) {
    json permission = {{"id", "modelperm-" + random_hex(32)},
                       {"object", "model_permission"},
                       {"created", ctx.started_at},
                       {"allow_create_engine", false},
                       {"allow_sampling", true},
                       {"allow_logprobs", true},
                       {"allow_search_indices", false},
                       {"allow_view", true},
                       {"allow_fine_tuning", false},
                       {"organization", "*"},
                       {"group", nullptr},
                       {"is_blocking", false}};
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", ctx.started_at},
                    {"owned_by", "serval"},
                    {"root", ctx.config.model_root.empty() ? name : ctx.config.model_root},
                    {"parent", nullptr},
                    {"max_model_len", ctx.config.max_model_len},
                    {"permission", json::array({permission})}});
  }
  respond_json(ex, {{"object", "list"}, {"data", data}});
}

void tokenize(ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
  TokenizeRequest req = parse_tokenize_request(parse_body(ex));
  check_model(ctx, req.model);
  std::vector<int32_t> ids;
  if (req.has_messages) {
    std::string prompt = render_chat(ctx, req.messages, nullptr, req.add_generation_prompt);
    ids = encode(ctx, prompt, req.add_special_tokens.value_or(false));
  } else {
    ids = encode(ctx, req.prompt, req.add_special_tokens.value_or(true));
  }
  json token_strs = nullptr;
  if (req.return_token_strs) {
    token_strs = json::array();
    for (int32_t id : ids) token_strs.push_back(ctx.hooks.decode({id}, false));
  }
  respond_json(ex, {{"count", ids.size()},
                    {"max_model_len", ctx.config.max_model_len},
                    {"tokens", ids},
                    {"token_strs", token_strs}});
}

void detokenize(ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
  DetokenizeRequest req = parse_detokenize_request(parse_body(ex));
  check_model(ctx, req.model);
  check_vocab(ctx, req.tokens, "tokens");
  respond_json(ex, {{"prompt", ctx.hooks.decode(req.tokens, true)}});
}

struct Route {
  const char* path;
  const char* method;
  void (*handler)(ApiContext&, const std::shared_ptr<HttpExchange>&);
};

const Route kRoutes[] = {
    {"/v1/completions", "POST", completions},
    {"/v1/chat/completions", "POST", chat_completions},
    {"/v1/models", "GET", models},
    {"/tokenize", "POST", tokenize},
    {"/detokenize", "POST", detokenize},
    {"/health", "GET", [](ApiContext&, const std::shared_ptr<HttpExchange>& ex) { ex->respond(200, "", ""); }},
    {"/version", "GET",
     [](ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
       respond_json(ex, {{"version", ctx.config.version}});
     }},
    {"/metrics", "GET",
     [](ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
       ex->respond(200, "text/plain; version=0.0.4; charset=utf-8", ctx.metrics.render(ctx.engine.stats()));
     }},
};

}  // namespace

ApiContext::ApiContext(ServerConfig c, EngineClient& e, ModelHooks h)
    : config(std::move(c)),
      engine(e),
      hooks(std::move(h)),
      metrics(config.served_model_names.empty() ? std::string() : config.served_model_names.front(),
              config.max_model_len),
      started_at(unix_now()) {
  check(!config.served_model_names.empty(), "the server needs at least one served model name");
  check(config.max_model_len > 0, "max_model_len must be positive, got " + std::to_string(config.max_model_len));
  check(static_cast<bool>(hooks.encode) && static_cast<bool>(hooks.decode),
        "the server needs the model's tokenizer (encode and decode hooks)");
}

void handle_request(ApiContext& ctx, const std::shared_ptr<HttpExchange>& ex) {
  const HttpRequest& r = ex->request();
  std::string allowed;
  for (const Route& route : kRoutes) {
    if (r.path != route.path) continue;
    if (r.method == route.method || (r.method == "HEAD" && std::string_view(route.method) == "GET" &&
                                     r.path == "/health")) {
      route.handler(ctx, ex);
      return;
    }
    allowed = route.method;
  }
  if (!allowed.empty()) {
    ex->respond(405, "application/json",
                error_body(405, "MethodNotAllowedError", "Method " + r.method + " is not allowed for " + r.path),
                {{"Allow", allowed}});
    return;
  }
  throw not_found("Route " + r.method + " " + r.path + " not found");
}

}  // namespace serval
