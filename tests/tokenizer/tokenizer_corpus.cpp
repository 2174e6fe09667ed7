// Corpus generation with a fixed xorshift generator so every platform builds the same strings.
#include "tokenizer_corpus.h"

#include <array>
#include <string_view>

#include "tokenizer/utf8.h"

namespace serval::test {

namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  uint64_t state_;
};

const std::vector<std::string> kWords = {
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "world", "HELLO", "WoRLd",
    "tokenizer", "inference", "server", "capacity", "measurement", "I'm", "you're", "they've", "she'll",
    "it's", "DON'T", "We'Ve", "a'lL", "'s", "'t", "'re", "naïve", "café", "résumé", "Zürich", "straße",
    "Ελληνικά", "Привет", "мир", "שלום", "مرحبا", "العالم", "नमस्ते", "दुनिया", "สวัสดี", "ភាសាខ្មែរ",
    "hello_world", "snake_case", "CamelCase", "x86_64", "e.g.", "etc.", "U.S.A.", "Mr.", "co-operate",
    "state-of-the-art", "https://example.com/a/b?c=d&e=f", "user@example.org", "C++20", "#include",
    "ﬁle", "Ⅻ", "①", "½", "x²", "ℌ", "Å", "e\xCC\x81", "n\xCC\x83", "\xE1\x84\x80\xE1\x85\xA1"};
const std::vector<std::string> kCjk = {
    "你好，世界！", "我们今天去公园散步。", "机器学习模型", "東京都は日本の首都です。", "ひらがなとカタカナ",
    "コンピューター", "안녕하세요 세계", "한국어 토크나이저", "中文字符和English混合", "「引用」と『二重引用』",
    "１２３４５６", "ＡＢＣ全角", "〇一二三四五", "龍龜鬱"};
const std::vector<std::string> kEmoji = {
    "😀", "😂🤣", "👍", "👍🏽", "👋🏿", "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏾‍🚀", "🏳️‍🌈", "🇺🇸", "🇯🇵🇫🇷🇩🇪",
    "❤️", "✨", "🔥🔥🔥", "1️⃣", "#️⃣", "☕", "🦀", "🐍", "™", "©", "→", "∑∫√", "🎉🎊"};
const std::vector<std::string> kCode = {
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "for (auto& [k, v] : map) { std::cout << k << \"=\" << v << '\\n'; }",
    "{\"name\": \"serval\", \"version\": 0.1, \"tags\": [\"llm\", \"cpu\"], \"ok\": true}",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "if (x != nullptr && *x > 0) {\r\n    return x->value;\r\n}\r\n",
    "    public static void main(String[] args) {\n        System.out.println(\"Hi\");\n    }",
    "const f = async (a, b) => { await sleep(100); return a ?? b; };",
    "<div class=\"box\"><p>Hello &amp; welcome</p></div>",
    "x = [i**2 for i in range(10) if i % 2 == 0]  # squares\n",
    "let s: &str = \"ünïcödé\"; println!(\"{s:?}\");",
    "$ ls -la | grep '.cpp' > out.txt 2>&1",
    "\t\tindented\twith\ttabs\n\t\t\tdeeper",
    "        eight spaces then code();"};
const std::vector<std::string> kPunct = {".", ",", "!", "?", ";", ":", "...", " - ", " — ", "(", ")", "[",
                                         "]", "\"", "'", "`", "«", "»", "¿", "¡", "、", "。", "…", "%", "$",
                                         "€", "£", "@", "&", "*", "/", "\\", "|", "~", "^", "_", "=", "+"};
const std::vector<std::string> kSpaces = {" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n",
                                          "\r\n\r\n", " \n", "\n ", "  \n  ", "\t \t", "\xC2\xA0", "\xE3\x80\x80",
                                          "\xE2\x80\x89", "\r", "\n\n\n\n", "                "};

std::string digits(Rng& rng) {
  std::string s;
  size_t n = 1 + rng.below(rng.below(4) == 0 ? 30 : 6);
  for (size_t i = 0; i < n; ++i) s += static_cast<char>('0' + rng.below(10));
  switch (rng.below(5)) {
    case 0: s += '.'; s += std::to_string(rng.below(1000)); break;
    case 1: s = std::string("$").append(s).append(",000"); break;
    case 2: s += "%"; break;
    default: break;
  }
  return s;
}

// A code point from long-assigned blocks (old enough that every engine's Unicode tables agree).
char32_t random_char(Rng& rng) {
  static const std::array<std::pair<char32_t, char32_t>, 12> kRanges = {{
      {0x21, 0x7E}, {0xC0, 0x17F}, {0x391, 0x3C9}, {0x410, 0x44F}, {0x5D0, 0x5EA}, {0x627, 0x64A},
      {0x905, 0x939}, {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0x4E00, 0x9FA5}, {0xAC00, 0xD7A3}, {0x1F600, 0x1F64F}}};
  auto [lo, hi] = kRanges[rng.below(kRanges.size())];
  return lo + static_cast<char32_t>(rng.below(hi - lo + 1));
}

std::string fragment(Rng& rng, const std::vector<std::string>& specials) {
  switch (rng.below(12)) {
    case 0: case 1: case 2: return rng.pick(kWords);
    case 3: return rng.pick(kCjk);
    case 4: return rng.pick(kEmoji);
    case 5: return rng.pick(kPunct);
    case 6: return rng.pick(kSpaces);
    case 7: return digits(rng);
    case 8: return rng.pick(kCode);
    case 9: {
      std::string s;
      for (size_t i = 0, n = 1 + rng.below(8); i < n; ++i) utf8::append(s, random_char(rng));
      return s;
    }
    case 10: return specials.empty() ? rng.pick(kWords) : rng.pick(specials);
    default: {
      std::string s(1 + rng.below(12), rng.below(2) ? ' ' : '\t');
      s += rng.pick(kWords);
      return s;
    }
  }
}

std::string sentence(Rng& rng) {
  std::string s;
  for (size_t i = 0, n = 3 + rng.below(12); i < n; ++i) {
    if (i > 0) s += ' ';
    std::string w = rng.pick(kWords);
    if (i == 0 && !w.empty() && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 32);
    s += w;
    if (rng.below(6) == 0) s += rng.pick(kPunct);
  }
  s += rng.below(2) ? "." : "?";
  return s;
}

}  // namespace

std::vector<std::string> make_tokenizer_corpus(size_t count, uint64_t seed, const std::vector<std::string>& specials) {
  Rng rng(seed);
  std::vector<std::string> corpus = {
      "", " ", "  ", "\n", "\r\n", "\t", "a", " a", "a ", "Hello world", " Hello world", "Hello  world",
      "Hello\n\nworld", "   leading and trailing   ", "I've 'told he's there, 'RE you sure? 'M not",
      "1234567890123456789012345678901234567890", "3.14159 2,718 1e-10 0x1F", "😀😀😀", "👨‍👩‍👧‍👦 family",
      "🇺🇸🇬🇧🇯🇵", "\r\n\r\n\r\n", "\t\t\t\t", "a\tb\tc", "e\xCC\x81 vs \xC3\xA9", "ﬁ ligature", "▁already▁spaced"};
  for (const std::string& s : specials) {
    corpus.push_back(s);
    corpus.push_back(std::string(s).append("user\nHello").append(s));
    corpus.push_back(std::string("text ").append(s).append(" text"));
    corpus.push_back(std::string(s).append("\n\n  ").append(s).append("\t"));
  }
  while (corpus.size() < count) {
    std::string s;
    switch (rng.below(10)) {
      case 0: case 1: s = sentence(rng); break;
      case 2: s = rng.pick(kCode); break;
      case 3: s = rng.pick(kCjk) + rng.pick(kEmoji) + rng.pick(kCjk); break;
      case 4: {  // whitespace-heavy
        for (size_t i = 0, n = 2 + rng.below(10); i < n; ++i) s += rng.below(2) ? rng.pick(kSpaces) : rng.pick(kWords);
        break;
      }
      case 5: {  // a multi-KB input
        if (rng.below(8) == 0) {
          size_t target = 2000 + rng.below(6000);
          while (s.size() < target) {
            if (rng.below(3)) {
              s += sentence(rng);
              s += rng.pick(kSpaces);
            } else {
              s += fragment(rng, specials);
            }
          }
          break;
        }
        [[fallthrough]];
      }
      default: {  // random mix of everything
        for (size_t i = 0, n = 1 + rng.below(14); i < n; ++i) s += fragment(rng, specials);
        break;
      }
    }
    corpus.push_back(std::move(s));
  }
  return corpus;
}

}  // namespace serval::test
