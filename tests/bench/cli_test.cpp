// `serval bench serve` command: flags reach the run, results are saved with vLLM's keys, and a run
// where every request fails ends in serval::Error (exit code 1 in the serval binary).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bench/scripted_server.h"
#include "cli/commands.h"
#include "core/error.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace serval::cli {
namespace {

void run_cli(const std::string& args) {
  CLI::App app;
  CLI::App* bench = app.add_subcommand("bench");
  add_bench_serve_command(*bench);
  app.parse("bench serve " + args, false);
}

TEST(BenchServeCommand, SavesVllmFieldsAndDetailedArrays) {
  test::ScriptedServer server([](int, const nlohmann::json& body) {
    test::Script s = test::simple_script(0.003, 0.002, body.value("max_tokens", 1));
    if (body.value("ignore_eos", false) != true || body.value("model", "") != "tiny") s.status = 400;
    return s;
  });
  const std::string out = (std::filesystem::temp_directory_path() / "serval_bench_cli_result.json").string();
  run_cli("--base-url " + server.base_url() +
          " --model tiny --num-prompts 4 --input-len 8 --output-len 5 --ignore-eos --max-concurrency 2"
          " --request-rate 200 --goodput ttft:1000 --percentiles 50,99.9 --save-result " + out + " --save-detailed");
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["completed"], 4);
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["total_output_tokens"], 20);
  EXPECT_EQ(j["max_concurrency"], 2);
  EXPECT_EQ(j["request_rate"], 200.0);
  EXPECT_TRUE(j.contains("p99.9_ttft_ms"));
  EXPECT_TRUE(j.contains("median_itl_ms"));
  EXPECT_TRUE(j.contains("std_e2el_ms"));
  EXPECT_TRUE(j["request_goodput"].is_number());
  EXPECT_EQ(j["good_request_fraction"], 1.0);
  EXPECT_EQ(j["ttfts"].size(), 4u);
  EXPECT_EQ(j["itls"][0].size(), 4u);
  EXPECT_EQ(j["output_lens"], nlohmann::json({5, 5, 5, 5}));
  EXPECT_EQ(j["generated_texts"][0], " tok tok tok tok tok");
  EXPECT_EQ(j["config"]["ignore_eos"], true);
}

TEST(BenchServeCommand, TokenizerSizesPromptsExactlyAndCrossChecksUsage) {
  SERVAL_REQUIRE_GOLDEN();
  const std::string model_dir = test::golden_dir() + "/models/qwen2-tiny";
  const Tokenizer tokenizer = Tokenizer::from_dir(model_dir);
  // The server counts the prompt with the same tokenizer, as a real one would.
  test::ScriptedServer server([&](int n, const nlohmann::json& body) {
    test::Script s = test::simple_script(0.002, 0.002, 5);
    s.prompt_tokens = static_cast<int>(tokenizer.encode(body["prompt"].get<std::string>(), true).size());
    return s;
  });
  const std::string out = (std::filesystem::temp_directory_path() / "serval_bench_cli_tok.json").string();
  run_cli("--base-url " + server.base_url() + " --model tiny --tokenizer " + model_dir +
          " --num-prompts 4 --input-len 32 --output-len 5 --save-result " + out);
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(out));
  EXPECT_EQ(j["total_input_tokens"], 4 * 32);  // random prompts built to exactly --input-len tokens
  EXPECT_EQ(j["tokenizer_id"], model_dir);
  EXPECT_EQ(j["token_check"]["requests_checked"], 4);
  EXPECT_EQ(j["token_check"]["prompt_token_mismatches"], 0);
  const bool five = tokenizer.encode(" tok tok tok tok tok").size() == 5;
  EXPECT_EQ(j["token_check"]["output_token_mismatches"], five ? 0 : 4);
}

TEST(BenchServeCommand, EveryRequestFailingIsAnError) {
  const std::string url = "http://127.0.0.1:" + std::to_string(test::unused_port());
  try {
    run_cli("--base-url " + url + " --model m --num-prompts 2 --input-len 4");
    FAIL() << "expected serval::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("all 2 requests failed"), std::string::npos) << e.what();
  }
}

TEST(BenchServeCommand, ChatMessagesOnTheCompletionsEndpointAreRefusedUpFront) {
  const std::string path = (std::filesystem::temp_directory_path() / "serval_bench_cli_msgs.jsonl").string();
  std::ofstream(path) << R"({"messages": [{"role": "user", "content": "hi"}]})" << "\n";
  try {
    run_cli("--model m --base-url http://127.0.0.1:1 --dataset jsonl:" + path);
    FAIL() << "expected serval::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--endpoint /v1/chat/completions"), std::string::npos) << e.what();
  }
}

TEST(BenchServeCommand, BadFlagValuesNameTheFlag) {
  EXPECT_THROW(run_cli("--model m --request-rate fast"), Error);
  EXPECT_THROW(run_cli("--model m --goodput itl:5"), Error);
  EXPECT_THROW(run_cli("--model m --endpoint /v1/embeddings"), Error);
  EXPECT_THROW(run_cli("--model m --base-url https://x"), Error);
}

}  // namespace
}  // namespace serval::cli
