// The `serval` command line as a user runs it: golden greedy output through `generate --json`,
// tokenize/chat-template output, and one clear line + non-zero exit for every kind of bad input.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_paths.h"

namespace fs = std::filesystem;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

RunResult run(const std::string& args, const std::string& stdin_text = "") {
  fs::path in = fs::temp_directory_path() / ("serval_cli_stdin_" + std::to_string(::getpid()));
  std::ofstream(in) << stdin_text;
  std::string cmd = std::string(SERVAL_BINARY) + " " + args + " < " + in.string() + " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  fs::remove(in);
  return r;
}

std::string qwen_tiny() { return serval::test::golden_dir() + "/models/qwen2-tiny"; }

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("serval_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A copy of qwen2-tiny (symlinks to the big files) whose config.json is edited by `edit`.
fs::path model_with_config(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  fs::path d = scratch(name);
  for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    fs::create_symlink(fs::path(qwen_tiny()) / f, d / f);
  std::ifstream in(fs::path(qwen_tiny()) / "config.json");
  nlohmann::json cfg = nlohmann::json::parse(in);
  edit(cfg);
  std::ofstream(d / "config.json") << cfg.dump(2);
  return d;
}

void expect_one_line_error(const RunResult& r, const std::string& must_contain) {
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(must_contain), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
}

TEST(Cli, GenerateJsonReproducesLlamaCppGreedyIdsAndLogprobs) {
  SERVAL_REQUIRE_GOLDEN();
  std::ifstream f(serval::test::golden_dir() + "/qwen2-tiny/p2_fox.json");
  nlohmann::json golden = nlohmann::json::parse(f);
  std::string ids;
  for (auto& id : golden["prompt_ids"]) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id.get<int>());
  }
  // Raw greedy: generation_config.json's repetition_penalty would otherwise apply (as in vLLM).
  RunResult r = run("generate " + qwen_tiny() + " --prompt-ids " + ids +
                    " --dtype float32 --temperature 0 --repetition-penalty 1 --max-tokens 16 --ignore-eos --json --top-logprobs 3 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  size_t step = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    nlohmann::json j = nlohmann::json::parse(line);
    ASSERT_LT(step, golden["greedy_ids"].size());
    EXPECT_EQ(j["id"], golden["greedy_ids"][step]) << "step " << step;
    ASSERT_EQ(j["top_logprobs"].size(), 3u);
    EXPECT_EQ(j["top_logprobs"][0]["id"], j["id"]);
    EXPECT_LE(j["logprob"].get<double>(), 0.0);
    // The margin between the top two logits equals the difference of their logprobs.
    double margin = j["top_logprobs"][0]["logprob"].get<double>() - j["top_logprobs"][1]["logprob"].get<double>();
    EXPECT_NEAR(margin, golden["steps"][step]["margin_top1_top2"].get<double>(), 1e-4) << "step " << step;
    ++step;
  }
  EXPECT_EQ(step, 16u) << r.out;
}

TEST(Cli, TokenizePrintsIdsAndChatTemplateRendersExactly) {
  SERVAL_REQUIRE_GOLDEN();
  RunResult r = run("tokenize " + qwen_tiny() + " --json --text 'Hello'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "[9707]\n");
  RunResult t = run("chat-template " + qwen_tiny() + " --add-generation-prompt",
                    R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(t.exit_code, 0) << t.out;
  EXPECT_EQ(t.out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Cli, MissingModelDirectoryNamesThePath) {
  expect_one_line_error(run("generate /nonexistent/model --prompt hi"), "/nonexistent/model");
}

TEST(Cli, UnsupportedArchitectureListsTheSupportedOnes) {
  SERVAL_REQUIRE_GOLDEN();
  fs::path d = model_with_config("arch", [](nlohmann::json& c) { c["architectures"] = {"MambaForCausalLM"}; });
  RunResult r = run("generate " + d.string() + " --prompt hi --max-tokens 1");
  expect_one_line_error(r, "MambaForCausalLM");
  EXPECT_NE(r.out.find("Qwen2ForCausalLM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("LlamaForCausalLM"), std::string::npos) << r.out;
  fs::remove_all(d);
}

TEST(Cli, TruncatedWeightsAreAnErrorNotACrash) {
  SERVAL_REQUIRE_GOLDEN();
  fs::path d = scratch("trunc");
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    fs::create_symlink(fs::path(qwen_tiny()) / f, d / f);
  {
    std::ifstream in(fs::path(qwen_tiny()) / "model.safetensors", std::ios::binary);
    std::string bytes(100000, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(d / "model.safetensors", std::ios::binary).write(bytes.data(), in.gcount());
  }
  expect_one_line_error(run("generate " + d.string() + " --prompt hi --max-tokens 1"), "model.safetensors");
  fs::remove_all(d);
}

TEST(Cli, BadFlagsAndValuesAreRejected) {
  SERVAL_REQUIRE_GOLDEN();
  expect_one_line_error(run("generate " + qwen_tiny() + " --prompt-ids 1,x,3"), "x");
  expect_one_line_error(run("generate " + qwen_tiny() + " --prompt-ids 99999999"), "outside the vocabulary");
  expect_one_line_error(run("generate " + qwen_tiny() + " --prompt hi --dtype int3"), "int3");
  expect_one_line_error(run("generate " + qwen_tiny() + " --prompt hi --top-p 1.5"), "top_p");
  expect_one_line_error(run("generate " + qwen_tiny() + " --prompt hi --temperature -1"), "temperature");
  RunResult unknown = run("generate " + qwen_tiny() + " --prompt hi --no-such-flag");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.out.find("no-such-flag"), std::string::npos) << unknown.out;
}

TEST(Cli, InvalidTemplateNamesItsLine) {
  fs::path d = scratch("tmpl");
  std::ofstream(d / "t.jinja") << "{% for m in messages %}\n{{ m.content }\n{% endfor %}";
  expect_one_line_error(run("chat-template --template " + (d / "t.jinja").string(), R"({"messages":[{"role":"user","content":"x"}]})"),
                        "line 2");
  std::ofstream(d / "ok.jinja") << "{% for m in messages %}{{ m.content }}{% endfor %}";
  expect_one_line_error(run("chat-template --template " + (d / "ok.jinja").string(), "not json"), "JSON");
  fs::remove_all(d);
}

TEST(Cli, MakeModelWritesALoadableCheckpoint) {
  fs::path d = scratch("make");
  RunResult m = run("make-model --arch llama --preset tiny --seed 3 --out " + d.string());
  ASSERT_EQ(m.exit_code, 0) << m.out;
  RunResult g = run("generate " + d.string() + " --prompt 'Hello there' --max-tokens 4 --temperature 0 --ignore-eos");
  EXPECT_EQ(g.exit_code, 0) << g.out;
  expect_one_line_error(run("make-model --arch qwen2 --preset giant --out " + d.string()), "giant");
  fs::remove_all(d);
}

}  // namespace
