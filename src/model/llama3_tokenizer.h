// Derives a Llama-3-shaped tokenizer (128000 regular byte-level BPE tokens + 256 specials at 128000+)
// from the embedded Qwen2.5 tokenizer, for make-model's llama presets (Meta's own file is not available).
#pragma once

#include <string>

namespace serval {

// Returns {tokenizer.json, tokenizer_config.json} texts. How: Qwen2.5's regular tokens with id < 128000
// are kept (same ids), merges are kept only when both parts and the result are kept, Llama 3's special
// tokens fill 128000..128255 (<|begin_of_text|> 128000, <|end_of_text|> 128001, <|start_header_id|> 128006,
// <|end_header_id|> 128007, <|eom_id|> 128008, <|eot_id|> 128009, <|python_tag|> 128010, reserved ones
// elsewhere), the pre-tokenizer is Llama 3's regex (digits in runs of 1-3) + ByteLevel, no normalizer,
// a post-processor that prepends <|begin_of_text|>, and the Llama-3.2-Instruct chat template.
// Token ids therefore match no real Llama 3 vocabulary beyond the specials.
struct TokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};
TokenizerFiles derive_llama3_tokenizer();

}  // namespace serval
