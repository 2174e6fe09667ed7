// StopStringMatcher: finds OpenAI `stop` strings in a request's growing text. Text that could still be
// the start of a stop string is held back, so a stop string is never emitted and never missed when it
// spans several tokens or stream chunks.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace serval {

class StopStringMatcher {
 public:
  // Empty strings in `stop` are ignored. include_stop_str: emit the matched stop string itself too.
  StopStringMatcher(std::vector<std::string> stop, bool include_stop_str);

  // Appends newly detokenized text; returns the text that is safe to emit now. Once a stop string is
  // found, returns the text up to (or, with include_stop_str, through) its first occurrence and
  // matched() is set; later calls return "".
  std::string append(std::string_view text);
  // The held-back tail, when generation ended for another reason (eos, length). "" after a match.
  std::string flush();

  const std::optional<std::string>& matched() const { return matched_; }
  bool active() const { return !stop_.empty(); }

 private:
  size_t holdback_length() const;

  std::vector<std::string> stop_;
  bool include_stop_str_;
  size_t max_stop_len_ = 0;
  std::string pending_;  // text not yet emitted (a possible stop-string prefix)
  std::optional<std::string> matched_;
};

}  // namespace serval
