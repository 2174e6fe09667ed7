// AddedVocabulary: tokenizer.json's "added_tokens", matched in the text before the model sees it
// (leftmost-longest, honoring lstrip/rstrip/single_word; `normalized` tokens match the normalized text).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace serval {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

class AddedVocabulary {
 public:
  // A span of the text: an added token (id >= 0, span includes stripped whitespace) or plain text (id -1).
  struct Segment {
    size_t start;
    size_t end;
    int32_t id;
  };

  // PRECONDITION: called once with every added token; normalizer is applied to `normalized` tokens' content.
  void build(std::vector<AddedToken> tokens, const Normalizer& normalizer);

  // Splits raw text on the non-normalized tokens (normalized_set false) or normalized text on the others.
  std::vector<Segment> split(std::string_view text, bool normalized_set) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // NOTE: a hand-written byte trie (leftmost-longest search): no maintained Aho-Corasick library ships
  // in Debian's C++ packages, and the token sets are small (tens to a few thousand strings).
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> edges;  // sorted by byte
      int32_t token = -1;                              // index into tokens_
    };
    std::vector<Node> nodes;
    std::array<int32_t, 256> root{};
    void insert(std::string_view key, int32_t token);
    // Longest token starting at text[pos]: (token index, length) or (-1, 0).
    std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;
    bool empty() const { return nodes.empty(); }
  };
  Trie raw_trie_;
  Trie normalized_trie_;
  std::vector<AddedToken> tokens_;
};

}  // namespace serval
