// UTF-8 helpers for the tokenizer: code point iteration, validation, Rust-style lossy decoding, and the
// Unicode character classes (whitespace, alphanumeric) that Hugging Face tokenizers' Rust code uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace serval::utf8 {

// Length of the code point starting at s[i] (1..4); 1 for an invalid lead byte. PRECONDITION: i < s.size().
size_t char_len(std::string_view s, size_t i);

// Decodes the valid code point at s[i] (s must be valid UTF-8 there).
char32_t decode_at(std::string_view s, size_t i);

void append(std::string& out, char32_t cp);

// Byte offset of the first invalid sequence, or std::string_view::npos when s is valid UTF-8.
size_t find_invalid(std::string_view s);

// String::from_utf8_lossy: every maximal invalid subpart becomes one U+FFFD.
std::string lossy(std::string_view bytes);

// Rust char::is_whitespace (Unicode White_Space).
bool is_whitespace(char32_t cp);
// Rust char::is_alphanumeric (Unicode Alphabetic or Numeric categories).
bool is_alphanumeric(char32_t cp);
// Rust char::is_numeric (categories Nd, Nl, No).
bool is_numeric(char32_t cp);

inline constexpr std::string_view replacement_char = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace serval::utf8
