// `serval tokenize MODEL_DIR`: text (from --text or stdin) to token ids, like llama-tokenize.
#include <iostream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace serval::cli {

void add_tokenize_command(CLI::App& app) {
  struct Options {
    std::string model_dir;
    std::string text;
    bool have_text = false;
    bool json = false;
    bool no_add_special_tokens = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Tokenize text with a model's tokenizer.json");
  cmd->add_option("model_dir", opts->model_dir, "Hugging Face model directory")->required();
  cmd->add_option("--text", opts->text, "Text to tokenize (default: read stdin)");
  cmd->add_flag("--json", opts->json, "Print the ids as a JSON array");
  cmd->add_flag("--no-add-special-tokens", opts->no_add_special_tokens,
                "Do not add the special tokens (BOS...) that tokenizer(text) adds");
  cmd->callback([opts, cmd] {
    Tokenizer tok = Tokenizer::from_dir(opts->model_dir);
    std::string text = opts->text;
    if (cmd->count("--text") == 0) text.assign(std::istreambuf_iterator<char>(std::cin), {});
    std::vector<int32_t> ids = tok.encode(text, !opts->no_add_special_tokens);
    if (opts->json) {
      std::cout << nlohmann::json(ids).dump() << "\n";
      return;
    }
    for (int32_t id : ids) {
      std::string piece = tok.decode(std::vector<int32_t>{id}, false);
      std::cout << id << " -> '" << piece << "'\n";
    }
  });
}

}  // namespace serval::cli
