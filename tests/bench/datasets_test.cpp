// Datasets: lengths (exact with a tokenizer), ranges, determinism, realistic documents, file formats and
// the file:line errors users see for bad files.
#include "bench/datasets/dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "bench/datasets/text_generator.h"
#include "core/error.h"

namespace serval::bench {
namespace {

// A stand-in tokenizer: one token per whitespace-separated word.
int count_words(std::string_view t, bool = false) {
  int n = 0;
  bool in_word = false;
  for (char c : t) {
    const bool space = c == ' ' || c == '\n';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

std::string temp_file(const std::string& name, const std::string& content) {
  const std::string path = (std::filesystem::temp_directory_path() / ("serval_bench_" + name)).string();
  std::ofstream(path) << content;
  return path;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BenchRandomDataset, ExactLengthsWithATokenizerAndRangeRatio) {
  DatasetConfig c;
  c.input_len = 100;
  c.output_len = 20;
  c.range_ratio = 0.5;
  const auto samples = random_samples(c, 50, 1, count_words);
  std::set<std::string> distinct;
  for (const auto& s : samples) {
    EXPECT_EQ(count_words(s.prompt, true), s.prompt_len);
    EXPECT_GE(s.prompt_len, 50);
    EXPECT_LE(s.prompt_len, 150);
    EXPECT_GE(s.output_len, 10);
    EXPECT_LE(s.output_len, 30);
    distinct.insert(s.prompt);
  }
  EXPECT_EQ(distinct.size(), samples.size());  // no accidental prefix sharing
  c.range_ratio = 0;
  for (const auto& s : random_samples(c, 5, 1, count_words)) {
    EXPECT_EQ(s.prompt_len, 100);
    EXPECT_EQ(s.output_len, 20);
  }
}

TEST(BenchRandomDataset, DeterministicForASeedWithoutTokenizer) {
  DatasetConfig c;
  c.input_len = 64;
  const auto a = load_samples(c, 3, 9, {});
  const auto b = load_samples(c, 3, 9, {});
  const auto d = load_samples(c, 3, 10, {});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i].prompt, b[i].prompt);
    EXPECT_NE(a[i].prompt, d[i].prompt);
    EXPECT_EQ(a[i].prompt_len, 64);  // one estimated token per vocabulary word
  }
}

TEST(BenchSyntheticDatasets, ChatSummarizeSharedPrefixShapes) {
  for (const auto& s : load_samples({.spec = "chat"}, 40, 3, {})) {
    EXPECT_GE(s.output_len, 64);
    EXPECT_LE(s.output_len, 256);
    EXPECT_LT(s.prompt_len, 40);
  }
  for (const auto& s : load_samples({.spec = "summarize"}, 10, 3, {})) {
    EXPECT_GE(s.prompt_len, 1000);
    EXPECT_LE(s.prompt_len, 3200);
    EXPECT_GE(s.output_len, 256);
    EXPECT_LE(s.output_len, 512);
    EXPECT_NE(s.prompt.find(". "), std::string::npos);  // sentences, not a word soup
    EXPECT_NE(s.prompt.find("\n\n"), std::string::npos);  // paragraphs
  }
  DatasetConfig sp{.spec = "shared-prefix", .input_len = 32, .output_len = 16, .prefix_len = 500};
  const auto shared = load_samples(sp, 4, 3, {});
  for (const auto& s : shared) {
    ASSERT_EQ(s.messages.size(), 2u);
    EXPECT_EQ(s.messages[0]["content"], shared[0].messages[0]["content"]);
    EXPECT_GE(estimate_tokens(s.messages[0]["content"].get<std::string>()), 500);
  }
  EXPECT_NE(shared[0].messages[1]["content"], shared[1].messages[1]["content"]);
  EXPECT_THROW(load_samples({.spec = "nope"}, 1, 0, {}), Error);
}

TEST(BenchJsonlDataset, PromptsMessagesAndOutputLengths) {
  const std::string path = temp_file("ok.jsonl",
                                     "{\"prompt\": \"hello there\", \"output_len\": 7}\n\n"
                                     "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
  DatasetConfig c{.spec = "jsonl:" + path, .output_len = 33};
  const auto s = load_samples(c, 3, 0, count_words);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].prompt, "hello there");
  EXPECT_EQ(s[0].prompt_len, 2);
  EXPECT_EQ(s[0].output_len, 7);
  EXPECT_EQ(s[1].messages[0]["content"], "hi");
  EXPECT_EQ(s[1].output_len, 33);
  EXPECT_EQ(s[2].prompt, "hello there");  // cycled
}

TEST(BenchJsonlDataset, BadLinesNameFileAndLine) {
  const std::string bad_json = temp_file("bad1.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": \n");
  EXPECT_NE(error_of([&] { load_samples({.spec = "jsonl:" + bad_json}, 2, 0, {}); }).find(bad_json + ":2: invalid JSON"),
            std::string::npos);
  const std::string no_prompt = temp_file("bad2.jsonl", "{\"prompt\": \"a\"}\n\n{\"text\": \"b\"}\n");
  EXPECT_NE(error_of([&] { load_samples({.spec = "jsonl:" + no_prompt}, 2, 0, {}); }).find(no_prompt + ":3: needs"),
            std::string::npos);
  const std::string bad_len = temp_file("bad3.jsonl", "{\"prompt\": \"a\", \"output_len\": 0}\n");
  EXPECT_NE(error_of([&] { load_samples({.spec = "jsonl:" + bad_len}, 1, 0, {}); }).find(":1: \"output_len\""),
            std::string::npos);
  EXPECT_NE(error_of([] { load_samples({.spec = "jsonl:/nonexistent/x.jsonl"}, 1, 0, {}); }).find("/nonexistent/x.jsonl"),
            std::string::npos);
}

TEST(BenchShareGptDataset, TakesFirstHumanTurnAndReplyLength) {
  const std::string path = temp_file("sg.json", R"([
    {"id": "a", "conversations": [{"from": "human", "value": "one two three four five"},
                                  {"from": "gpt", "value": "six seven eight nine ten eleven"}]},
    {"id": "b", "conversations": [{"from": "human", "value": "too short"}]},
    {"id": "c", "conversations": [{"from": "human", "value": "alpha beta gamma delta"},
                                  {"from": "gpt", "value": "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"}]}
  ])");
  const auto with_tok = load_samples({.spec = "sharegpt:" + path}, 2, 0, count_words);
  ASSERT_EQ(with_tok.size(), 2u);
  for (const auto& s : with_tok) {
    if (s.prompt == "one two three four five") EXPECT_EQ(s.output_len, 6);
    else EXPECT_EQ(s.output_len, 10);
  }
  const auto no_tok = load_samples({.spec = "sharegpt:" + path}, 2, 0, {});
  for (const auto& s : no_tok) {
    if (s.prompt == "one two three four five") EXPECT_EQ(s.output_len, 8);  // 6 words x 1.3
    else EXPECT_EQ(s.output_len, 13);
  }
  const std::string bad = temp_file("sg_bad.json", "[\n {\"conversations\": []},\n {\"conversations\": [}\n]");
  EXPECT_NE(error_of([&] { load_samples({.spec = "sharegpt:" + bad}, 1, 0, {}); }).find(bad + ":3: invalid JSON"),
            std::string::npos);
}

}  // namespace
}  // namespace serval::bench
