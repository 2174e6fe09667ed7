// StopStringMatcher: earliest match across all stop strings; hold back the longest suffix that is a
// prefix of one of them.
#include "engine/stop_string_matcher.h"

#include <algorithm>
#include <utility>

namespace serval {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stop, bool include_stop_str)
    : include_stop_str_(include_stop_str) {
  for (std::string& s : stop)
    if (!s.empty()) {
      max_stop_len_ = std::max(max_stop_len_, s.size());
      stop_.push_back(std::move(s));
    }
}

size_t StopStringMatcher::holdback_length() const {
  // Longest suffix of pending_ that is a proper prefix of some stop string (a full match was handled).
  const size_t limit = std::min(pending_.size(), max_stop_len_ - 1);
  for (size_t len = limit; len > 0; --len) {
    const std::string_view tail = std::string_view(pending_).substr(pending_.size() - len);
    for (const std::string& s : stop_)
      if (s.size() > len && std::string_view(s).substr(0, len) == tail) return len;
  }
  return 0;
}

std::string StopStringMatcher::append(std::string_view text) {
  if (matched_) return "";
  if (stop_.empty()) return std::string(text);
  // Only a match that ends inside the new text is new: start the search max_stop_len - 1 bytes back.
  const size_t old_size = pending_.size();
  pending_.append(text);
  const size_t from = old_size >= max_stop_len_ ? old_size - max_stop_len_ + 1 : 0;
  size_t best = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const std::string& s : stop_) {
    const size_t pos = pending_.find(s, from);
    if (pos != std::string::npos && (pos < best || (pos == best && s.size() > best_stop->size()))) {
      best = pos;
      best_stop = &s;
    }
  }
  if (best_stop != nullptr) {
    matched_ = *best_stop;
    std::string out = pending_.substr(0, include_stop_str_ ? best + best_stop->size() : best);
    pending_.clear();
    return out;
  }
  const size_t keep = holdback_length();
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StopStringMatcher::flush() {
  if (matched_) return "";
  return std::exchange(pending_, std::string());
}

}  // namespace serval
