// A deterministic test corpus for tokenizer agreement tests: English, code, CJK, emoji (ZWJ, skin tones,
// flags), whitespace runs (\r\n, tabs), digit runs, special-token text, multi-KB inputs and random mixes.
// NOTE: U+0085, U+180E and U+FEFF are left out on purpose: regex engines disagree on whether they are \s.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace serval::test {

// `count` strings (plus a fixed set of hand-picked cases first); `special_texts` are written into some.
std::vector<std::string> make_tokenizer_corpus(size_t count, uint64_t seed, const std::vector<std::string>& special_texts);

}  // namespace serval::test
