// The table: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards, in order.
#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace serval::byte_level {

namespace {

struct Tables {
  std::array<std::string, 256> to_char;
  std::array<int16_t, 512> from_cp;  // code points < 512 cover every mapped character
  Tables() {
    from_cp.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
      utf8::append(to_char[b], cp);
      from_cp[cp] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& byte_to_char(uint8_t b) { return tables().to_char[b]; }

int char_to_byte(char32_t cp) { return cp < 512 ? tables().from_cp[cp] : -1; }

std::string encode(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size() * 2);
  for (char c : text) out += t.to_char[static_cast<uint8_t>(c)];
  return out;
}

}  // namespace serval::byte_level
