// `serval serve` as operators run it: start-up log lines (equal to `serval plan`'s), the refusal when one
// max-model-len request does not fit, unknown flags, --config YAML with flags overriding it, SIGTERM
// letting an in-flight stream finish with exit 0, and the official `openai` npm client against it.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <future>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "serve_process.h"
#include "server/test_client.h"
#include "test_paths.h"

namespace serval::test {
namespace {

std::string tiny() { return golden_dir() + "/models/qwen2-tiny"; }

using Ran = CommandResult;
Ran run(const std::string& cmd) { return run_command(cmd); }

std::vector<std::string> base_args() {
  return {tiny(), "--host", "127.0.0.1", "--port", "0", "--dtype", "float32", "--served-model-name", "tiny",
          "--disable-log-requests"};
}

class ServeCliTest : public ::testing::Test {
 protected:
  void SetUp() override { SERVAL_REQUIRE_GOLDEN(); }
};

TEST_F(ServeCliTest, StartupLogShowsTheSameCapacityLinesAsPlan) {
  std::vector<std::string> args = base_args();
  for (const char* a : {"--kv-cache-memory", "8MiB", "--max-model-len", "1k"}) args.push_back(a);
  ServeProcess p(SERVAL_BINARY, args);
  ASSERT_NE(p.wait_for_port(), 0) << p.log();
  const std::string log = p.log();
  const Ran plan = run(std::string(SERVAL_BINARY) + " plan " + tiny() +
                       " --kv-cache-memory 8MiB --max-model-len 1k --dtype float32");
  ASSERT_EQ(plan.exit_code, 0) << plan.out;
  int compared = 0;
  for (const char* key : {"KV cache size: ", "Maximum concurrency for ", "Available KV cache memory: "}) {
    const size_t at = log.find(key);
    ASSERT_NE(at, std::string::npos) << key << " missing from the serve log:\n" << log;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(plan.out.find(line), std::string::npos) << "serve logged '" << line << "' but plan printed:\n" << plan.out;
    ++compared;
  }
  EXPECT_EQ(compared, 3);
  EXPECT_NE(log.find("KV cache size: 16,384 tokens"), std::string::npos) << log;  // 8 MiB / 512 B per token
  EXPECT_NE(log.find("Maximum concurrency for 1,000 tokens per request: 16.25x"), std::string::npos) << log;
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.log();
}

TEST_F(ServeCliTest, RefusesToStartWhenOneMaxLengthRequestDoesNotFit) {
  const Ran r = run(std::string(SERVAL_BINARY) + " serve " + tiny() +
                    " --port 0 --dtype float32 --kv-cache-memory 256KiB --max-model-len 4096");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("(4096)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("estimated maximum model length is 512"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--max-model-len"), std::string::npos) << r.out;
}

TEST_F(ServeCliTest, UnknownFlagsAndBadValuesAreErrorsNamingThem) {
  Ran r = run(std::string(SERVAL_BINARY) + " serve " + tiny() + " --no-such-flag 3");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--no-such-flag"), std::string::npos) << r.out;
  r = run(std::string(SERVAL_BINARY) + " serve " + tiny() + " --gpu-memory-utilization 1.5");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("--gpu-memory-utilization must be in (0, 1], got 1.5"), std::string::npos) << r.out;
  r = run(std::string(SERVAL_BINARY) + " serve /no/such/model");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("/no/such/model"), std::string::npos) << r.out;
}

TEST_F(ServeCliTest, ConfigYamlTakesUnderscoreKeysAndFlagsOverrideIt) {
  const std::string yaml = (std::filesystem::temp_directory_path() / ("serval_serve_cfg_" + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(yaml) << "max_model_len: 1k\nserved-model-name: from-yaml\nkv_cache_memory: 8MiB\n"
                         "enable_prefix_caching: false\nhost: 127.0.0.1\nport: 0\ndtype: float32\n";
  ServeProcess p(SERVAL_BINARY, {tiny(), "--config", yaml, "--served-model-name", "from-flag"});
  const uint16_t port = p.wait_for_port();
  ASSERT_NE(port, 0) << p.log();
  const json models = http_call(port, "GET", "/v1/models").json_body();
  EXPECT_EQ(models["data"][0]["id"], "from-flag");
  EXPECT_EQ(models["data"][0]["max_model_len"], 1000);
  // Prefix caching off: no queries are counted.
  http_call(port, "POST", "/v1/completions", json({{"model", "from-flag"}, {"prompt", "Hello"}, {"max_tokens", 2}}).dump());
  const std::string m = http_call(port, "GET", "/metrics").body;
  EXPECT_NE(m.find("vllm:prefix_cache_queries_total{model_name=\"from-flag\",engine=\"0\"} 0.0"), std::string::npos);
  p.signal(SIGINT);
  EXPECT_EQ(p.wait_exit(), 0) << p.log();

  std::ofstream(yaml) << "max_model_len: 1k\nno_such_key: 3\n";
  const Ran bad = run(std::string(SERVAL_BINARY) + " serve " + tiny() + " --config " + yaml);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("no"), std::string::npos) << bad.out;
  std::filesystem::remove(yaml);
}

TEST_F(ServeCliTest, SigtermLetsTheInFlightStreamFinishThenExitsZero) {
  std::vector<std::string> args = base_args();
  for (const char* a : {"--kv-cache-memory", "8MiB", "--max-model-len", "1k"}) args.push_back(a);
  ServeProcess p(SERVAL_BINARY, args);
  const uint16_t port = p.wait_for_port();
  ASSERT_NE(port, 0) << p.log();
  auto pending = std::async(std::launch::async, [port] {
    return http_call(port, "POST", "/v1/completions",
                     json({{"model", "tiny"}, {"prompt", "Count"}, {"max_tokens", 300}, {"ignore_eos", true},
                           {"stream", true}})
                         .dump());
  });
  // Signal once the request is running in the engine.
  for (int i = 0; i < 500; ++i) {
    const std::string m = http_call(port, "GET", "/metrics").body;
    if (m.find("vllm:num_requests_running{model_name=\"tiny\",engine=\"0\"} 1.0") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  p.signal(SIGTERM);
  const HttpResult r = pending.get();
  EXPECT_EQ(r.status, 200);
  const auto events = r.events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(events[events.size() - 2]["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(p.wait_exit(), 0) << p.log();
  EXPECT_NE(p.log().find("Received SIGTERM"), std::string::npos);
}

TEST_F(ServeCliTest, OfficialOpenAiClientRunsChatAndCompletionsStreamedAndNot) {
  const std::string oracle = source_dir() + "/tests/oracle";
  ASSERT_TRUE(std::filesystem::exists(oracle + "/node_modules/openai/package.json"))
      << "tests/oracle/node_modules/openai is missing: run scripts/install-deps.sh";
  std::vector<std::string> args = base_args();
  for (const char* a : {"--kv-cache-memory", "8MiB", "--max-model-len", "1k", "--api-key", "sk-test"}) args.push_back(a);
  ServeProcess p(SERVAL_BINARY, args);
  const uint16_t port = p.wait_for_port();
  ASSERT_NE(port, 0) << p.log();
  const Ran r = run("node " + oracle + "/openai_client.mjs http://127.0.0.1:" + std::to_string(port) +
                    "/v1 sk-test tiny '{\"temperature\":0,\"ignore_eos\":true}'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const json j = json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["chat"]["object"], "chat.completion");
  EXPECT_EQ(j["chat"]["role"], "assistant");
  EXPECT_EQ(j["chat"]["finish_reason"], "length");
  EXPECT_EQ(j["chat"]["usage"]["completion_tokens"], 5);
  EXPECT_FALSE(j["chat"]["text"].get<std::string>().empty());
  EXPECT_EQ(j["chat_stream"]["text"], j["chat"]["text"]);
  EXPECT_EQ(j["chat_stream"]["usage"], j["chat"]["usage"]);
  EXPECT_EQ(j["completion"]["object"], "text_completion");
  EXPECT_EQ(j["completion"]["num_logprob_tokens"], 6);
  EXPECT_EQ(j["completion"]["usage"]["completion_tokens"], 6);
  EXPECT_EQ(j["completion_stream"]["text"], j["completion"]["text"]);
  EXPECT_EQ(j["completion_stream"]["usage"], j["completion"]["usage"]);
  EXPECT_EQ(j["models"][0]["id"], "tiny");
  EXPECT_EQ(j["unknown_model"]["status"], 404);
  // Without the key: 401.
  EXPECT_EQ(http_call(port, "GET", "/v1/models").status, 401);
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.log();
}

}  // namespace
}  // namespace serval::test
