// Python str semantics over UTF-8 std::string: code-point indexing, whitespace, strip/split/case
// mapping, and the str methods templates call ("x".startswith(...), .split(), .strip('\n'), ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/value.h"

namespace serval::jinja {

std::vector<char32_t> utf8_decode(std::string_view s);
std::string utf8_encode(const std::vector<char32_t>& cps);
void utf8_append(std::string& out, char32_t cp);
int64_t utf8_length(std::string_view s);  // number of code points
bool is_python_space(char32_t cp);        // str.isspace()

// str.strip/lstrip/rstrip: chars == nullopt strips whitespace, else any code point in chars.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split(sep=None, maxsplit=-1) and str.rsplit.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit);
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);

// Calls the str method `name` on s. Returns nullopt when str has no such (allowed) method.
std::optional<Value> call_string_method(const std::string& s, std::string_view name, const CallArgs& args);
bool is_string_method(std::string_view name);

}  // namespace serval::jinja
