// Word-level text generation for synthetic prompts (see text_generator.h).
#include "bench/datasets/text_generator.h"

#include <array>
#include <cctype>

namespace serval::bench {

namespace {

// Common English words: nearly all are one token (with their leading space) in Llama, Qwen and GPT BPEs.
constexpr std::array<const char*, 96> kNouns = {
    "time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child", "world", "school",
    "state", "family", "group", "country", "problem", "hand", "part", "place", "case", "week", "company",
    "system", "program", "question", "work", "government", "number", "night", "point", "home", "water",
    "room", "mother", "area", "money", "story", "fact", "month", "lot", "right", "study", "book", "eye",
    "job", "word", "business", "issue", "side", "kind", "head", "house", "service", "friend", "father",
    "power", "hour", "game", "line", "end", "member", "law", "car", "city", "name", "team", "minute",
    "idea", "kid", "body", "information", "back", "parent", "face", "level", "office", "door", "health",
    "person", "art", "war", "history", "party", "result", "change", "morning", "reason", "research",
    "girl", "guy", "moment", "air", "teacher", "force", "education"};
constexpr std::array<const char*, 64> kVerbs = {
    "makes", "takes", "gives", "finds", "tells", "asks", "uses", "works", "calls", "tries", "needs", "feels",
    "leaves", "puts", "means", "keeps", "lets", "begins", "seems", "helps", "shows", "hears", "plays",
    "runs", "moves", "lives", "believes", "brings", "holds", "writes", "provides", "stands", "loses",
    "pays", "meets", "includes", "continues", "sets", "learns", "changes", "leads", "understands",
    "watches", "follows", "stops", "creates", "speaks", "reads", "allows", "adds", "spends", "grows",
    "opens", "walks", "wins", "offers", "remembers", "loves", "considers", "appears", "buys", "waits",
    "serves", "builds"};
constexpr std::array<const char*, 48> kAdjectives = {
    "good", "new", "first", "last", "long", "great", "little", "own", "other", "old", "right", "big",
    "high", "different", "small", "large", "next", "early", "young", "important", "few", "public", "bad",
    "same", "able", "local", "social", "late", "hard", "major", "better", "economic", "strong", "possible",
    "whole", "free", "military", "true", "federal", "international", "full", "special", "easy", "clear",
    "recent", "certain", "personal", "open"};
constexpr std::array<const char*, 24> kLinks = {
    "the", "a", "this", "that", "every", "each", "our", "their", "his", "her", "some", "any",
    "the", "the", "a", "one", "no", "its", "your", "my", "the", "a", "another", "such"};
constexpr std::array<const char*, 16> kPreps = {"in", "on", "with", "for", "from", "about", "after", "before",
                                                "under", "over", "at", "into", "by", "near", "through", "without"};
constexpr std::array<const char*, 10> kConj = {"and", "but", "so", "because", "while", "although", "when",
                                               "if", "since", "as"};

template <size_t N>
const char* pick(std::mt19937_64& rng, const std::array<const char*, N>& words) {
  return words[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

}  // namespace

std::string TextGenerator::words(int n) {
  std::string out;
  out.reserve(static_cast<size_t>(n) * 7);
  for (int i = 0; i < n; ++i) {
    if (i) out.push_back(' ');
    const int kind = uniform(0, 3);
    out += kind == 0 ? pick(rng_, kNouns) : kind == 1 ? pick(rng_, kVerbs) : kind == 2 ? pick(rng_, kAdjectives) : pick(rng_, kLinks);
  }
  return out;
}

std::string TextGenerator::sentence() {
  std::string s;
  auto phrase = [&] {
    s += pick(rng_, kLinks);
    s.push_back(' ');
    if (uniform(0, 1)) {
      s += pick(rng_, kAdjectives);
      s.push_back(' ');
    }
    s += pick(rng_, kNouns);
  };
  phrase();
  s.push_back(' ');
  s += pick(rng_, kVerbs);
  s.push_back(' ');
  phrase();
  const int extra = uniform(0, 2);
  for (int i = 0; i < extra; ++i) {
    if (uniform(0, 2) == 0) {
      s += ", ";
      s += pick(rng_, kConj);
      s.push_back(' ');
      phrase();
      s.push_back(' ');
      s += pick(rng_, kVerbs);
      s.push_back(' ');
      phrase();
    } else {
      s.push_back(' ');
      s += pick(rng_, kPreps);
      s.push_back(' ');
      phrase();
    }
  }
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  s.push_back('.');
  return s;
}

std::string TextGenerator::topic() {
  std::string t = std::string(pick(rng_, kLinks)) + " " + pick(rng_, kAdjectives) + " " + pick(rng_, kNouns);
  if (uniform(0, 1)) t += std::string(" ") + pick(rng_, kPreps) + " " + pick(rng_, kLinks) + " " + pick(rng_, kNouns);
  return t;
}

std::string TextGenerator::document(int approx_tokens) {
  std::string title = topic();
  title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
  std::string doc = "Report: " + title + "\n\n";
  int tokens = estimate_tokens(doc);
  int in_paragraph = 0;
  const int paragraph_len = uniform(3, 7);
  while (tokens < approx_tokens) {
    std::string s = sentence();
    tokens += estimate_tokens(s) + 1;
    if (in_paragraph) doc.push_back(' ');
    doc += s;
    if (++in_paragraph == paragraph_len) {
      doc += "\n\n";
      in_paragraph = 0;
    }
  }
  while (!doc.empty() && (doc.back() == '\n' || doc.back() == ' ')) doc.pop_back();
  return doc;
}

int estimate_tokens(std::string_view text) {
  int tokens = 0;
  int letters = 0;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      if (letters == 0 || letters % 8 == 0) ++tokens;
      ++letters;
    } else {
      letters = 0;
      if (std::ispunct(u)) ++tokens;
      else if (c == '\n') ++tokens;
    }
  }
  return tokens;
}

}  // namespace serval::bench
