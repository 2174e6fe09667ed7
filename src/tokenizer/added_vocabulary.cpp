// Added-token matching, following Hugging Face tokenizers' AddedVocabulary::find_matches.
#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace serval {

namespace {

// The last character before `end`, as a code point (text must be valid UTF-8).
char32_t char_before(std::string_view text, size_t end) {
  size_t k = end - 1;
  while (k > 0 && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
  return utf8::decode_at(text, k);
}

size_t char_start_before(std::string_view text, size_t end) {
  size_t k = end - 1;
  while (k > 0 && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
  return k;
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view key, int32_t token) {
  if (key.empty()) return;
  if (nodes.empty()) root.fill(-1);
  int32_t node = root[static_cast<uint8_t>(key[0])];
  if (node < 0) {
    node = static_cast<int32_t>(nodes.size());
    nodes.emplace_back();
    root[static_cast<uint8_t>(key[0])] = node;
  }
  for (size_t i = 1; i < key.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(key[i]);
    auto& edges = nodes[node].edges;
    auto it = std::lower_bound(edges.begin(), edges.end(), b, [](const auto& e, uint8_t v) { return e.first < v; });
    if (it != edges.end() && it->first == b) {
      node = it->second;
    } else {
      int32_t child = static_cast<int32_t>(nodes.size());
      edges.insert(it, {b, child});
      nodes.emplace_back();
      node = child;
    }
  }
  if (nodes[node].token < 0) nodes[node].token = token;  // first definition of a duplicate wins
}

std::pair<int32_t, size_t> AddedVocabulary::Trie::longest_at(std::string_view text, size_t pos) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = root[static_cast<uint8_t>(text[pos])];
  size_t i = pos + 1;
  while (node >= 0) {
    if (nodes[node].token >= 0) best = {nodes[node].token, i - pos};
    if (i >= text.size()) break;
    const auto& edges = nodes[node].edges;
    uint8_t b = static_cast<uint8_t>(text[i]);
    auto it = std::lower_bound(edges.begin(), edges.end(), b, [](const auto& e, uint8_t v) { return e.first < v; });
    if (it == edges.end() || it->first != b) break;
    node = it->second;
    ++i;
  }
  return best;
}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const Normalizer& normalizer) {
  tokens_ = std::move(tokens);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.normalized) {
      std::string content = t.content;
      normalizer.apply(content);
      normalized_trie_.insert(content, static_cast<int32_t>(i));
    } else {
      raw_trie_.insert(t.content, static_cast<int32_t>(i));
    }
  }
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::split(std::string_view text, bool normalized_set) const {
  const Trie& trie = normalized_set ? normalized_trie_ : raw_trie_;
  std::vector<Segment> segments;
  size_t start_offset = 0;
  if (!trie.empty()) {
    size_t pos = 0;
    while (pos < text.size()) {
      auto [index, length] = trie.longest_at(text, pos);
      if (index < 0) {
        ++pos;
        continue;
      }
      const AddedToken& t = tokens_[index];
      size_t start = pos, stop = pos + length;
      pos = stop;  // the search resumes after the match itself, as Aho-Corasick's find_iter does
      if (t.single_word) {
        bool start_space = start == 0 || !utf8::is_alphanumeric(char_before(text, start));
        bool stop_space = stop == text.size() || !utf8::is_alphanumeric(utf8::decode_at(text, stop));
        if (!start_space || !stop_space) continue;
      }
      if (t.lstrip) {
        size_t new_start = start;
        while (new_start > 0 && utf8::is_whitespace(char_before(text, new_start)))
          new_start = char_start_before(text, new_start);
        start = std::max(new_start, start_offset);
      }
      if (t.rstrip) {
        while (stop < text.size() && utf8::is_whitespace(utf8::decode_at(text, stop)))
          stop += utf8::char_len(text, stop);
      }
      if (start_offset < start) segments.push_back({start_offset, start, -1});
      segments.push_back({start, stop, t.id});
      start_offset = stop;
    }
  }
  if (start_offset < text.size()) segments.push_back({start_offset, text.size(), -1});
  return segments;
}

}  // namespace serval
