// `serval chat-template MODEL_DIR | --template FILE`: renders {"messages", "tools"} from stdin with a
// chat template and prints exactly the prompt the model would see (like llama.cpp's /apply-template).
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace serval::cli {

void add_chat_template_command(CLI::App& app) {
  struct Options {
    std::string model_dir;
    std::string template_file;
    std::string bos_token;
    std::string eos_token;
    bool add_generation_prompt = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "chat-template",
      "Render a chat template: reads {\"messages\": [...], \"tools\": [...], other variables...} on stdin");
  cmd->add_option("model_dir", opts->model_dir, "Model directory whose tokenizer_config.json has chat_template");
  cmd->add_option("--template", opts->template_file, "A Jinja chat template file (instead of MODEL_DIR)");
  cmd->add_option("--bos-token", opts->bos_token, "bos_token for --template");
  cmd->add_option("--eos-token", opts->eos_token, "eos_token for --template");
  cmd->add_flag("--add-generation-prompt", opts->add_generation_prompt,
                "End the prompt with the assistant turn's header");
  cmd->callback([opts, cmd] {
    std::optional<ChatTemplate> tmpl;
    if (!opts->template_file.empty()) {
      tmpl.emplace(read_text_file(opts->template_file), opts->bos_token, opts->eos_token);
    } else if (!opts->model_dir.empty()) {
      tmpl = ChatTemplate::from_model_dir(opts->model_dir);
      check(tmpl.has_value(), "model " + opts->model_dir +
                                  " has no chat_template in tokenizer_config.json; pass --template FILE");
    } else {
      throw Error("chat-template needs a MODEL_DIR or --template FILE");
    }
    std::string input(std::istreambuf_iterator<char>(std::cin), {});
    nlohmann::json request;
    try {
      request = nlohmann::json::parse(input);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(std::string("stdin is not valid JSON: ") + e.what());
    }
    check(request.is_object() && request.contains("messages") && request["messages"].is_array(),
          "stdin must be a JSON object with a \"messages\" array");
    check(!request["messages"].empty(), "\"messages\" must not be empty");
    nlohmann::json tools = request.value("tools", nlohmann::json());
    // Any other top-level key (date_string, enable_thinking, ...) becomes a template variable.
    nlohmann::json extra = nlohmann::json::object();
    for (auto& [key, value] : request.items())
      if (key != "messages" && key != "tools") extra[key] = value;
    std::cout << tmpl->render(request["messages"], tools, opts->add_generation_prompt, extra);
    std::cout.flush();
    (void)cmd;
  });
}

}  // namespace serval::cli
