// Pattern: the {"String": s} or {"Regex": r} object used by Split, Replace; finds match spans.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace serval {

class Pattern {
 public:
  Pattern() = default;
  static Pattern from_json(const nlohmann::json& j, const std::string& where);
  static Pattern literal(std::string s);

  // Non-overlapping match spans [start, end), left to right.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  // Replaces every match with `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;
  std::shared_ptr<Regex> regex_;
};

}  // namespace serval
