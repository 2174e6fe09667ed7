// The official `openai` npm client (tests/oracle/node_modules/openai) against the server with the mock
// engine: chat and completions, streamed and not, models and an error, all as a real client parses them.
#include <cstdio>
#include <filesystem>

#include "server/test_client.h"
#include "test_paths.h"

namespace serval::test {
namespace {

std::string run_command(const std::string& cmd, int& status) {
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  status = pclose(pipe);
  return out;
}

class OpenAiClientTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerConfig c = test_config();
    c.http.api_keys = {"test-key"};
    start(c);
  }
};

TEST_F(OpenAiClientTest, OfficialClientRoundTrips) {
  const std::string oracle = source_dir() + "/tests/oracle";
  ASSERT_TRUE(std::filesystem::exists(oracle + "/node_modules/openai/package.json"))
      << "tests/oracle/node_modules/openai is missing: run scripts/install-deps.sh";
  const std::string cmd = "node " + oracle + "/openai_client.mjs http://127.0.0.1:" + std::to_string(port_) +
                          "/v1 test-key 2>&1";
  int status = 0;
  std::string out = run_command(cmd, status);
  ASSERT_EQ(status, 0) << out;
  json r = json::parse(out.substr(out.find('{')));

  const size_t chat_len = fake_encode(fake_chat_template(json::array({{{"role", "user"}, {"content", "hi"}}}), nullptr, true), false).size();
  EXPECT_EQ(r["chat"]["object"], "chat.completion");
  EXPECT_EQ(r["chat"]["role"], "assistant");
  EXPECT_EQ(r["chat"]["text"], mock_text(chat_len, 5, 1));
  EXPECT_EQ(r["chat"]["finish_reason"], "length");
  EXPECT_EQ(r["chat"]["usage"]["completion_tokens"], 5);
  EXPECT_EQ(r["chat_stream"]["text"], r["chat"]["text"]);
  EXPECT_EQ(r["chat_stream"]["roles"], json({"assistant"}));
  EXPECT_EQ(r["chat_stream"]["finish_reason"], "length");
  EXPECT_EQ(r["chat_stream"]["usage"], r["chat"]["usage"]);

  EXPECT_EQ(r["completion"]["object"], "text_completion");
  EXPECT_EQ(r["completion"]["text"], mock_text(6, 6));
  EXPECT_EQ(r["completion"]["num_logprob_tokens"], 6);
  EXPECT_EQ(r["completion"]["usage"]["total_tokens"], 12);
  EXPECT_EQ(r["completion_stream"]["text"], r["completion"]["text"]);
  EXPECT_EQ(r["completion_stream"]["usage"], r["completion"]["usage"]);
  EXPECT_EQ(r["completion_stream"]["finish_reason"], "length");

  EXPECT_EQ(r["models"][0]["id"], "test-model");
  EXPECT_EQ(r["models"][0]["owned_by"], "serval");
  EXPECT_EQ(r["unknown_model"]["status"], 404);
  EXPECT_EQ(r["unknown_model"]["class"], "NotFoundError");
  EXPECT_EQ(r["unknown_model"]["message"], "The model `no-such-model` does not exist.");
}

}  // namespace
}  // namespace serval::test
