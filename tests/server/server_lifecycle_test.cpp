// Client disconnects (abort in the engine), graceful shutdown, and the /metrics exposition.
#include <future>
#include <thread>

#include "server/test_client.h"

namespace serval::test {
namespace {

namespace net = boost::asio;

// Sends a raw HTTP request on a fresh socket and returns the socket (the caller reads or closes it).
std::unique_ptr<HttpConnection> send_raw(uint16_t port, const json& body, const std::string& target) {
  auto c = std::make_unique<HttpConnection>(port);
  std::string payload = body.dump();
  std::string req = "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(payload.size()) + "\r\n\r\n" + payload;
  net::write(c->socket(), net::buffer(req));
  return c;
}

// Reads from the socket until `needle` has appeared `count` times.
std::string read_until_count(net::ip::tcp::socket& s, const std::string& needle, int count) {
  std::string got;
  char buf[4096];
  auto occurrences = [&] {
    int n = 0;
    for (size_t pos = got.find(needle); pos != std::string::npos; pos = got.find(needle, pos + 1)) ++n;
    return n;
  };
  while (occurrences() < count) {
    boost::system::error_code ec;
    size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  return got;
}

std::string metric_line(const std::string& metrics, const std::string& prefix) {
  size_t pos = metrics.find("\n" + prefix);
  if (pos == std::string::npos) return {};
  size_t end = metrics.find('\n', pos + 1);
  return metrics.substr(pos + 1, end - pos - 1);
}

using LifecycleTest = ServerTest;

TEST_F(LifecycleTest, DisconnectMidStreamAbortsTheEngineRequest) {
  engine_.stall_after = 3;  // three chunks arrive, then the request sits in the engine
  auto c = send_raw(port_, {{"prompt", "x"}, {"max_tokens", 50}, {"n", 2}, {"stream", true}}, "/v1/completions");
  std::string got = read_until_count(c->socket(), "data: ", 3);
  ASSERT_NE(got.find("HTTP/1.1 200"), std::string::npos);
  ASSERT_TRUE(engine_.wait_until([](const MockEngine& e) { return e.num_active() == 2; }));
  c->socket().close();
  ASSERT_TRUE(engine_.wait_until([](const MockEngine& e) { return e.aborted().size() == 2 && e.num_active() == 0; }));
  auto sub = engine_.submitted();
  auto aborted = engine_.aborted();
  std::sort(aborted.begin(), aborted.end());
  EXPECT_EQ(aborted, (std::vector<std::string>{sub[0].request_id, sub[1].request_id}));
  EXPECT_EQ(engine_.stats().kv_cache_usage, 0.0);
  std::string m = get("/metrics").body;
  EXPECT_EQ(metric_line(m, "vllm:kv_cache_usage_perc{"), "vllm:kv_cache_usage_perc{model_name=\"test-model\",engine=\"0\"} 0.0");
  EXPECT_EQ(metric_line(m, "vllm:request_success_total{model_name=\"test-model\",engine=\"0\",finished_reason=\"abort\"}"),
            "vllm:request_success_total{model_name=\"test-model\",engine=\"0\",finished_reason=\"abort\"} 2.0");
  EXPECT_TRUE(eventually([&] { return server_->num_in_flight() == 0; }));
}

TEST_F(LifecycleTest, DisconnectDuringNonStreamedRequestAborts) {
  engine_.hold = true;
  auto c = send_raw(port_, {{"prompt", "x"}, {"max_tokens", 5}}, "/v1/completions");
  ASSERT_TRUE(engine_.wait_until([](const MockEngine& e) { return e.submitted().size() == 1; }));
  c->socket().close();
  ASSERT_TRUE(engine_.wait_until([](const MockEngine& e) { return e.aborted().size() == 1; }));
  EXPECT_EQ(engine_.aborted()[0], engine_.submitted()[0].request_id);
  EXPECT_EQ(engine_.num_active(), 0);
  engine_.release();
  EXPECT_EQ(get("/health").status, 200);
}

bool port_refuses(uint16_t port) {
  net::io_context ioc;
  net::ip::tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  return static_cast<bool>(ec);
}

TEST_F(LifecycleTest, GracefulShutdownFinishesInFlightRequests) {
  engine_.hold = true;
  auto response = std::async(std::launch::async, [this] {
    return http_call(port_, "POST", "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 4}}.dump());
  });
  auto streamed = std::async(std::launch::async, [this] {
    return http_call(port_, "POST", "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 4}, {"stream", true}}.dump());
  });
  ASSERT_TRUE(engine_.wait_until([](const MockEngine& e) { return e.submitted().size() == 2; }));
  auto stopped = std::async(std::launch::async, [this] { server_->stop_gracefully(std::chrono::seconds(60)); });
  // New connections are refused once draining starts; the two requests are still waiting in the engine.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!port_refuses(port_) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(port_refuses(port_));
  engine_.release();
  HttpResult r = response.get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json_body()["choices"][0]["text"], mock_text(2, 4));
  HttpResult s = streamed.get();
  EXPECT_EQ(s.events().back(), "[DONE]");
  stopped.get();
  EXPECT_TRUE(engine_.aborted().empty());
}

TEST_F(LifecycleTest, GraceExpiryAbortsWhatIsLeft) {
  engine_.hold = true;
  auto response = std::async(std::launch::async, [this] {
    try {
      http_call(port_, "POST", "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 4}}.dump());
      return std::string("answered");
    } catch (const std::exception& e) {
      return std::string("connection closed");
    }
  });
  ASSERT_TRUE(engine_.wait_until([](const MockEngine& e) { return e.submitted().size() == 1; }));
  server_->stop_gracefully(std::chrono::milliseconds(50));
  EXPECT_EQ(response.get(), "connection closed");
  EXPECT_EQ(engine_.aborted().size(), 1u);
}

TEST_F(LifecycleTest, MetricsExposition) {
  std::string before = get("/metrics").body;
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total", "vllm:num_preemptions_total", "vllm:prefix_cache_queries_total",
        "vllm:prefix_cache_hits_total", "vllm:request_success_total", "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
        "vllm:request_queue_time_seconds_bucket"})
    EXPECT_NE(before.find("\n" + std::string(name) + "{model_name=\"test-model\""), std::string::npos) << name;
  EXPECT_NE(before.find("# TYPE vllm:time_to_first_token_seconds histogram"), std::string::npos);
  EXPECT_NE(before.find("# TYPE vllm:prompt_tokens counter"), std::string::npos);
  EXPECT_NE(before.find("vllm:time_to_first_token_seconds_bucket{model_name=\"test-model\",engine=\"0\",le=\"0.001\"} 0.0"),
            std::string::npos);
  EXPECT_NE(before.find("le=\"2560.0\""), std::string::npos);
  EXPECT_NE(before.find("vllm:e2e_request_latency_seconds_bucket{model_name=\"test-model\",engine=\"0\",le=\"7680.0\"}"),
            std::string::npos);
  const std::string length_line =
      "vllm:request_success_total{model_name=\"test-model\",engine=\"0\",finished_reason=\"length\"}";
  EXPECT_EQ(metric_line(before, length_line), length_line + " 0.0");

  ASSERT_EQ(post("/v1/completions", {{"prompt", "hello"}, {"max_tokens", 3}}).status, 200);
  ASSERT_EQ(post("/v1/completions", {{"prompt", "hello"}, {"max_tokens", 3}, {"stream", true}}).status, 200);
  HttpResult m = get("/metrics");
  EXPECT_EQ(m.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string after = m.body;
  const std::string l = "{model_name=\"test-model\",engine=\"0\"}";
  EXPECT_EQ(metric_line(after, length_line), length_line + " 2.0");
  EXPECT_EQ(metric_line(after, "vllm:time_to_first_token_seconds_count" + l),
            "vllm:time_to_first_token_seconds_count" + l + " 2.0");
  EXPECT_EQ(metric_line(after, "vllm:inter_token_latency_seconds_count" + l),
            "vllm:inter_token_latency_seconds_count" + l + " 4.0");
  EXPECT_EQ(metric_line(after, "vllm:e2e_request_latency_seconds_count" + l),
            "vllm:e2e_request_latency_seconds_count" + l + " 2.0");
  EXPECT_EQ(metric_line(after, "vllm:prompt_tokens_total" + l), "vllm:prompt_tokens_total" + l + " 12.0");
  EXPECT_EQ(metric_line(after, "vllm:generation_tokens_total" + l), "vllm:generation_tokens_total" + l + " 6.0");
  EXPECT_EQ(metric_line(after, "vllm:request_generation_tokens_sum" + l), "vllm:request_generation_tokens_sum" + l + " 6.0");
}

}  // namespace
}  // namespace serval::test
