// libFuzzer target: arbitrary bytes as tokenizer.json text. Loading must either succeed or throw
// serval::Error; a tokenizer that loads must encode and decode a short mixed string without crashing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    serval::Tokenizer tok = serval::Tokenizer::from_json_text(text, "");
    std::vector<int32_t> ids = tok.encode("Hello world, 12 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 <s>\n\t  x", true);
    std::string back = tok.decode(ids, false);
    serval::IncrementalDetokenizer detok(tok);
    for (int32_t id : ids) back += detok.add(id);
    back += detok.flush();
    (void)tok.decode(std::vector<int32_t>{0, 1, 2, -1, tok.vocab_size()}, true);
  } catch (const serval::Error&) {
  }
  return 0;
}
