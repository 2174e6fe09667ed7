// IncrementalDetokenizer: the window algorithm of tokenizers' DecodeStream (decode the ids since the last
// emitted chunk, emit the new suffix), holding text back while it may still change.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace serval {

namespace {

bool ends_with_replacement(const std::string& s) {
  return s.size() >= utf8::replacement_char.size() &&
         s.compare(s.size() - utf8::replacement_char.size(), utf8::replacement_char.size(), utf8::replacement_char) == 0;
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                                               std::span<const int32_t> prompt_ids)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {
  if (prompt_ids.empty()) return;
  // As vLLM: prime with the shortest prompt suffix of 4..23 ids that decodes without U+FFFD.
  std::span<const int32_t> suffix = prompt_ids;
  if (prompt_ids.size() > 4) {
    for (size_t n = 4; n < std::min<size_t>(prompt_ids.size() + 1, 24); ++n) {
      auto candidate = prompt_ids.subspan(prompt_ids.size() - n);
      if (tokenizer_.decode(candidate, skip_special_tokens_).find(utf8::replacement_char) == std::string::npos) {
        suffix = candidate;
        break;
      }
    }
  }
  for (int32_t id : suffix) step(id);
}

std::string IncrementalDetokenizer::add(int32_t id) { return step(id); }

std::string IncrementalDetokenizer::step(int32_t id) {
  window_.push_back(id);
  // A trailing run of <0xNN> tokens may still grow into a different (or invalid) byte group: wait.
  for (auto it = window_.rbegin(); it != window_.rend(); ++it) {
    if (skip_special_tokens_ && tokenizer_.is_special(*it)) continue;
    if (tokenizer_.is_byte_fallback_token(*it)) return {};
    break;
  }
  std::string text = tokenizer_.decode(window_, skip_special_tokens_);
  if (text.size() <= prefix_.size() || ends_with_replacement(text)) return {};
  if (text.compare(0, prefix_.size(), prefix_) != 0) return {};  // not stable yet; keep the window growing
  std::string new_text = text.substr(prefix_.size());
  size_t new_prefix_index = window_.size() - prefix_index_;
  window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_.decode(window_, skip_special_tokens_);
  prefix_index_ = new_prefix_index;
  return new_text;
}

std::string IncrementalDetokenizer::flush() {
  std::string text = tokenizer_.decode(window_, skip_special_tokens_);
  std::string rest;
  if (text.size() > prefix_.size() && text.compare(0, prefix_.size(), prefix_) == 0) rest = text.substr(prefix_.size());
  window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_.decode(window_, skip_special_tokens_);
  prefix_index_ = window_.size();
  return rest;
}

}  // namespace serval
