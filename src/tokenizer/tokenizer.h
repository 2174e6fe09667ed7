// Tokenizer: a Hugging Face tokenizer.json (+ tokenizer_config.json) loaded for exact, token-for-token
// encode/decode (byte-level BPE and SentencePiece-style BPE with byte fallback), plus the streaming
// IncrementalDetokenizer. Copies share one immutable implementation; const methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace serval {

class Tokenizer {
 public:
  // Reads MODEL_DIR/tokenizer.json and, when present, MODEL_DIR/tokenizer_config.json.
  // Throws serval::Error naming the file and the problem.
  static Tokenizer from_dir(const std::string& model_dir);
  // tokenizer_config_json may be "" (no config).
  static Tokenizer from_json_text(std::string_view tokenizer_json, std::string_view tokenizer_config_json);

  // As HF's tokenizer(text)["input_ids"] (add_special_tokens) or tokenizer.encode(text, add_special_tokens=False).
  // Added/special tokens written in the text are matched as tokens. Throws serval::Error on invalid UTF-8.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;

  // As tokenizers' Tokenizer.decode (what transformers' decode returns without clean_up_tokenization_spaces,
  // and what vLLM streams): unknown ids are dropped, invalid UTF-8 becomes U+FFFD.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int32_t vocab_size() const;  // max id + 1 over vocab and added tokens
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // raw vocab string ("Ġhello", "▁the", "<|im_end|>"); "" when none
  bool is_special(int32_t id) const;
  std::optional<int32_t> bos_id() const;  // tokenizer_config.json bos_token, when set and known
  std::optional<int32_t> eos_id() const;  // tokenizer_config.json eos_token, when set and known

  // The ids encode(text, true) puts before/after the text's ids.
  std::span<const int32_t> prefix_special_ids() const;
  std::span<const int32_t> suffix_special_ids() const;

  // tokenizer_config.json's clean_up_tokenization_spaces (transformers applies clean_up_tokenization after
  // decode when it is true; decode() itself never does).
  bool clean_up_tokenization_spaces() const;
  // transformers' clean_up_tokenization: " ." -> ".", " n't" -> "n't", ...
  static std::string clean_up_tokenization(std::string text);

  // True when the decoder turns this id's "<0xNN>" token into a raw byte (SentencePiece byte fallback).
  bool is_byte_fallback_token(int32_t id) const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Streams text for ids produced one at a time. Each add() returns only newly completed text, never a
// broken UTF-8 sequence (incomplete byte-level or <0xNN> sequences are held back); the concatenation of all
// add() outputs plus flush() equals tokenizer.decode(all added ids, skip_special_tokens).
// With prompt_ids, the detokenizer is primed with the prompt's tail the way vLLM does, so the continuation
// keeps e.g. the leading space a SentencePiece decoder strips at the start of a whole sequence.
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = true,
                         std::span<const int32_t> prompt_ids = {});

  std::string add(int32_t id);
  // Returns whatever text is still held back (e.g. a trailing incomplete sequence as U+FFFD).
  std::string flush();

 private:
  std::string step(int32_t id);

  Tokenizer tokenizer_;
  bool skip_special_tokens_;
  std::vector<int32_t> window_;  // ids from the start of the last emitted chunk
  std::string prefix_;           // decode(window_[0, prefix_index_)) == the text already emitted from window_
  size_t prefix_index_ = 0;      // window_[prefix_index_..] produced no emitted text yet
};

}  // namespace serval
