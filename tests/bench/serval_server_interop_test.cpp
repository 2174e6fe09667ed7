// bench serve against serval's own OpenAI server (the real HTTP/SSE layer with the MockEngine behind it):
// the client reads serval's stream format, counts tokens from its usage chunk, and times its steps.
#include <gtest/gtest.h>

#include "bench/run_bench.h"
#include "server/test_client.h"

namespace serval::test {
namespace {

class BenchInterop : public ServerTest {};

bench::BenchConfig interop_config(uint16_t port) {
  bench::BenchConfig c;
  c.base_url = "http://127.0.0.1:" + std::to_string(port);
  c.model = "test-model";
  c.num_prompts = 8;
  c.max_concurrency = 4;
  c.dataset.input_len = 8;  // short: the test model's context is 128 byte-tokens
  c.dataset.output_len = 10;
  c.ignore_eos = true;
  c.percentiles = {50};
  c.keep_text = true;
  return c;
}

TEST_F(BenchInterop, CompletionsStreamIsCountedAndTimed) {
  engine_.step_delay = std::chrono::milliseconds(5);
  const bench::BenchConfig c = interop_config(port_);
  const bench::BenchResult r = bench::run_bench(c);
  ASSERT_EQ(r.completed, 8) << (r.errors.empty() ? "" : r.errors[0].first);
  EXPECT_EQ(r.total_output_tokens, 80);
  int64_t expected_input = 0;  // the fake tokenizer: one token per byte, plus BOS
  for (const auto& s : bench::load_samples(c.dataset, c.num_prompts, c.seed, {}))
    expected_input += static_cast<int64_t>(fake_encode(s.prompt, true).size());
  EXPECT_EQ(r.total_input_tokens, expected_input);
  EXPECT_EQ(r.usage_missing, 0);
  EXPECT_EQ(r.itl_ms.count, 8u * 9u);  // one token per chunk
  EXPECT_GT(r.tpot_ms.median, 3.0);    // paced by the engine's 5 ms steps
  EXPECT_EQ(r.records[0].text.size(), 10u);  // one byte per fake token
}

TEST_F(BenchInterop, ChatStreamIsCounted) {
  bench::BenchConfig c = interop_config(port_);
  c.endpoint = "/v1/chat/completions";
  const bench::BenchResult r = bench::run_bench(c);
  ASSERT_EQ(r.completed, 8) << (r.errors.empty() ? "" : r.errors[0].first);
  EXPECT_EQ(r.total_output_tokens, 80);
  EXPECT_EQ(r.usage_missing, 0);
}

TEST_F(BenchInterop, ServerErrorsAreReportedWithTheirMessage) {
  bench::BenchConfig c = interop_config(port_);
  c.model = "no-such-model";
  const bench::BenchResult r = bench::run_bench(c);
  EXPECT_EQ(r.failed, 8);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].first.rfind("HTTP 404: ", 0), 0u) << r.errors[0].first;
}

}  // namespace
}  // namespace serval::test
