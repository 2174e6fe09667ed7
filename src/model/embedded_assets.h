// Data files compiled into the library (assets/ at build time) so `serval make-model` works anywhere.
#pragma once

#include <string_view>

namespace serval::assets {

std::string_view qwen25_tokenizer_json();         // assets/qwen2.5/tokenizer.json (real Qwen2.5 tokenizer)
std::string_view qwen25_tokenizer_config_json();  // assets/qwen2.5/tokenizer_config.json (ChatML template)
std::string_view llama32_chat_template();         // assets/llama3.2/chat_template.jinja (Llama-3.2-Instruct)

}  // namespace serval::assets
