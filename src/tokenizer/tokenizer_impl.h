// Tokenizer::Impl: the loaded pipeline (added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor,
// and the decoder), shared read-only by every copy of a Tokenizer.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/string_map.h"
#include "tokenizer/tokenizer.h"

namespace serval {

struct Tokenizer::Impl {
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::shared_ptr<BpeModel> model;
  AddedVocabulary added;
  Decoder decoder;
  PostProcessor post_processor;

  std::vector<std::string> id_to_token;  // by id; "" for holes
  std::vector<uint8_t> has_token;        // 1 when the id has a token
  std::vector<uint8_t> special;          // 1 for special added tokens
  std::vector<uint8_t> byte_fallback;    // 1 for "<0xNN>" tokens when the decoder has ByteFallback
  StringMap<int32_t> added_to_id;        // added tokens' content -> id (looked up before the vocab)

  std::optional<int32_t> bos_id, eos_id;
  bool clean_up_tokenization_spaces = false;

  void encode_text(std::string_view text, std::vector<int32_t>& ids) const;
};

}  // namespace serval
