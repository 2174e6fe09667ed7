// GPT-2's byte <-> printable-unicode mapping used by byte-level BPE (ByteLevel pre-tokenizer and decoder).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace serval::byte_level {

// UTF-8 of the printable character that stands for byte b.
const std::string& byte_to_char(uint8_t b);

// The byte a mapped character stands for, or -1 when cp is not one of the 256 mapped characters.
int char_to_byte(char32_t cp);

// Maps every byte of text to its character (the ByteLevel pre-tokenizer's normalization).
std::string encode(std::string_view text);

}  // namespace serval::byte_level
