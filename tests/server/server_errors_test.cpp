// Every error case of the API: HTTP status, OpenAI error type and a message that names the problem.
#include "server/test_client.h"

namespace serval::test {
namespace {

class ErrorTest : public ServerTest {
 protected:
  // Asserts status, error.type, error.code and that error.message contains each fragment.
  void expect_error(const HttpResult& r, int status, const std::string& type,
                    const std::vector<std::string>& fragments) {
    ASSERT_EQ(r.status, status) << r.body;
    json e = json::parse(r.body)["error"];
    EXPECT_EQ(e["type"], type);
    EXPECT_EQ(e["code"], status);
    EXPECT_TRUE(e.contains("param"));
    const std::string msg = e["message"];
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "message: " << msg << "\nmissing: " << f;
  }
  json chat_messages() { return json::array({{{"role", "user"}, {"content", "hi"}}}); }
};

TEST_F(ErrorTest, PromptPlusMaxTokensOverContext) {
  // "hello" = 6 tokens with BOS; 6 + 200 > 128.
  expect_error(post("/v1/completions", {{"prompt", "hello"}, {"max_tokens", 200}}), 400, "BadRequestError",
               {"maximum context length is 128 tokens", "206 tokens", "6 in the messages", "200 in the completion"});
  EXPECT_TRUE(engine_.submitted().empty());
}

TEST_F(ErrorTest, ChatPromptLongerThanContextWithoutMaxTokens) {
  json messages = json::array({{{"role", "user"}, {"content", std::string(200, 'x')}}});
  expect_error(post("/v1/chat/completions", {{"messages", messages}}), 400, "BadRequestError",
               {"maximum context length is 128 tokens", "in the messages"});
}

TEST_F(ErrorTest, WrongFieldType) {
  HttpResult r = post("/v1/completions", {{"prompt", "x"}, {"temperature", "hot"}});
  expect_error(r, 400, "BadRequestError", {"temperature", "must be a number"});
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "temperature");
  expect_error(post("/v1/completions", {{"prompt", 5}}), 400, "BadRequestError", {"prompt"});
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", "ten"}}), 400, "BadRequestError",
               {"max_tokens", "integer"});
  expect_error(post("/v1/chat/completions", {{"messages", "hi"}}), 400, "BadRequestError", {"messages"});
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"stream", "yes"}}), 400, "BadRequestError",
               {"stream", "boolean"});
}

TEST_F(ErrorTest, NegativeTemperature) {
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"temperature", -0.5}}), 400, "BadRequestError",
               {"temperature", "-0.5"});
}

TEST_F(ErrorTest, TopPOutOfRange) {
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"top_p", 0}}), 400, "BadRequestError", {"top_p"});
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"top_p", 1.5}}), 400, "BadRequestError", {"top_p", "1.5"});
}

TEST_F(ErrorTest, NBelowOne) {
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"n", 0}}), 400, "BadRequestError", {"n must be at least 1"});
}

TEST_F(ErrorTest, NegativeMaxTokens) {
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", -5}}), 400, "BadRequestError",
               {"max_tokens must be at least 1", "-5"});
  expect_error(post("/v1/chat/completions", {{"messages", chat_messages()}, {"max_completion_tokens", 0}}), 400,
               "BadRequestError", {"max_completion_tokens must be at least 1"});
}

TEST_F(ErrorTest, OtherOutOfRangeValues) {
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"presence_penalty", 3}}), 400, "BadRequestError",
               {"presence_penalty"});
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"min_tokens", 20}, {"max_tokens", 5}}), 400,
               "BadRequestError", {"min_tokens"});
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"logprobs", 30}}), 400, "BadRequestError",
               {"logprobs of 30", "max allowed: 20"});
  expect_error(post("/v1/chat/completions", {{"messages", chat_messages()}, {"top_logprobs", 2}}), 400,
               "BadRequestError", {"top_logprobs", "logprobs"});
  expect_error(post("/v1/completions", {{"prompt", {104, 999}}}), 400, "BadRequestError", {"999", "vocab"});
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"stream_options", {{"include_usage", true}}}}), 400,
               "BadRequestError", {"stream"});
}

TEST_F(ErrorTest, MalformedJson) {
  expect_error(http_call(port_, "POST", "/v1/completions", "{\"prompt\": \"x\""), 400, "BadRequestError",
               {"not valid JSON"});
  expect_error(http_call(port_, "POST", "/v1/completions", "[1, 2]"), 400, "BadRequestError", {"JSON object"});
  expect_error(http_call(port_, "POST", "/v1/completions", ""), 400, "BadRequestError", {"JSON"});
}

TEST_F(ErrorTest, InvalidUtf8Body) {
  std::string body = "{\"prompt\": \"a\xff\xfe\"}";
  expect_error(http_call(port_, "POST", "/v1/completions", body), 400, "BadRequestError", {"UTF-8", "offset 13"});
}

TEST_F(ErrorTest, EmptyPrompt) {
  expect_error(post("/v1/completions", {{"prompt", ""}}), 400, "BadRequestError", {"prompt cannot be empty"});
  expect_error(post("/v1/completions", {{"prompt", json::array()}}), 400, "BadRequestError", {"prompt cannot be empty"});
  expect_error(post("/v1/completions", {{"max_tokens", 3}}), 400, "BadRequestError", {"prompt", "required"});
}

TEST_F(ErrorTest, EmptyMessages) {
  expect_error(post("/v1/chat/completions", {{"messages", json::array()}}), 400, "BadRequestError",
               {"messages", "non-empty"});
  expect_error(post("/v1/chat/completions", {{"messages", json::array({{{"content", "x"}}})}}), 400,
               "BadRequestError", {"role"});
}

TEST_F(ErrorTest, UnknownModel) {
  expect_error(post("/v1/completions", {{"model", "gpt-9"}, {"prompt", "x"}}), 404, "NotFoundError",
               {"The model `gpt-9` does not exist."});
  expect_error(post("/v1/chat/completions", {{"model", "gpt-9"}, {"messages", chat_messages()}}), 404,
               "NotFoundError", {"gpt-9"});
}

TEST_F(ErrorTest, UnknownRoute) {
  expect_error(get("/v1/nothing"), 404, "NotFoundError", {"/v1/nothing"});
}

TEST_F(ErrorTest, WrongMethod) {
  HttpResult r = get("/v1/completions");
  expect_error(r, 405, "MethodNotAllowedError", {"GET"});
  EXPECT_EQ(r.header("allow"), "POST");
  expect_error(http_call(port_, "POST", "/v1/models", "{}"), 405, "MethodNotAllowedError", {"/v1/models"});
}

TEST_F(ErrorTest, BodyOverLimit) {
  // test_config() sets a 64 KiB body limit.
  json big = {{"prompt", std::string(100 * 1024, 'x')}};
  expect_error(post("/v1/completions", big), 413, "PayloadTooLargeError", {"65536"});
  EXPECT_EQ(get("/health").status, 200);  // the server is still fine
}

TEST_F(ErrorTest, NoChatTemplate) {
  TearDown();
  start(test_config(), fake_hooks(/*with_template=*/false));
  expect_error(post("/v1/chat/completions", {{"messages", chat_messages()}}), 400, "BadRequestError",
               {"this model has no chat template; pass --chat-template"});
}

TEST_F(ErrorTest, EngineErrorNonStreamed) {
  engine_.fail_after = 1;
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 5}}), 500, "InternalServerError",
               {"mock engine failure"});
}

TEST_F(ErrorTest, EngineErrorStreamedIsAnSseErrorEvent) {
  engine_.fail_after = 1;
  HttpResult r = post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 5}, {"n", 2}, {"stream", true}});
  ASSERT_EQ(r.status, 200);
  auto events = r.events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  const json& err = events[events.size() - 2];
  EXPECT_EQ(err["error"]["type"], "InternalServerError");
  EXPECT_EQ(err["error"]["message"], "mock engine failure");
}

TEST_F(ErrorTest, MalformedHttp) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
  boost::asio::write(s, boost::asio::buffer(std::string("BLAH / HTTP/9.9\r\n\r\n")));
  std::string reply;
  boost::system::error_code ec;
  char buf[1024];
  for (;;) {
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    reply.append(buf, n);
  }
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
}

}  // namespace
}  // namespace serval::test
