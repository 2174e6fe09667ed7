// Regex: a PCRE2 pattern compiled in UTF + UCP mode (JIT when available), the engine behind the Split
// pre-tokenizer and Replace normalizer/decoder. Matching is thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace serval {

class Regex {
 public:
  // Throws serval::Error naming `what` and the compile error for a bad pattern.
  Regex(const std::string& pattern, const std::string& what);

  // Calls on_match(start, end) for each non-overlapping match, left to right (empty matches included;
  // the search then advances one character).
  void find_all(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const;

 private:
  struct Code;
  std::shared_ptr<Code> code_;
};

// Escapes a literal string so PCRE2 matches it verbatim.
std::string regex_escape(std::string_view literal);

}  // namespace serval
