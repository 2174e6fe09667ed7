// Data files compiled into the library (assets/ at build time) so `serval make-model` works anywhere.
#pragma once

#include <string_view>

namespace serval::assets {

std::string_view qwen25_tokenizer_json();         // assets/qwen2.5/tokenizer.json (real Qwen2.5 tokenizer)
std::string_view qwen25_tokenizer_config_json();  // assets/qwen2.5/tokenizer_config.json (ChatML template)
std::string_view llama32_chat_template();         // assets/llama3.2/chat_template.jinja (Llama-3.2-Instruct)
// The golden tiny checkpoints' tokenizers (see ../shared/golden/README.md), for generated Phi-3 / Phi-2 /
// Gemma-2 models. Gemma's are gzip-compressed (33 MB raw): gunzip with gunzip_asset (make_model.cpp).
std::string_view phi3_tokenizer_json();              // assets/phi3/tokenizer.json (Llama-2 SP-BPE + Phi-3 tokens)
std::string_view phi3_tokenizer_config_json();       // assets/phi3/tokenizer_config.json (Phi-3 chat template)
std::string_view phi2_tokenizer_json();              // assets/phi2/tokenizer.json (GPT-2 BPE + CodeGen spaces)
std::string_view phi2_tokenizer_config_json();       // assets/phi2/tokenizer_config.json (no chat template)
std::string_view gemma2_tokenizer_json_gz();         // assets/gemma2/tokenizer.json.gz (Gemma 3's, 262144 ids)
std::string_view gemma2_tokenizer_config_json_gz();  // assets/gemma2/tokenizer_config.json.gz (gemma-2-it template)

}  // namespace serval::assets
