// The client against the scripted server: every metric within 1 ms of the scripted truth, every count
// exact, the absolute schedule, the concurrency cap, warmup exclusion, error grouping, keep-alive.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "bench/run_bench.h"
#include "bench/scripted_server.h"
#include "core/error.h"

namespace serval::bench {
namespace {

using test::Script;
using test::ScriptedServer;
using test::simple_script;

constexpr double kMs = 1.0;      // the client vs what the server actually did, in ms
constexpr double kScriptMs = 25.0;  // what the server did vs its script (its own timer jitter on a busy box)

BenchConfig config_for(const ScriptedServer& server, int num_prompts) {
  BenchConfig c;
  c.base_url = server.base_url();
  c.model = "scripted";
  c.num_prompts = num_prompts;
  c.dataset.input_len = 16;
  c.dataset.output_len = 8;
  c.percentiles = {50, 99};
  return c;
}

// The truth is what the server actually did: its send time of each chunk, on the same steady_clock the
// client uses. ITL and TPOT come from the server's gaps alone. TTFT and E2EL run from the client's send
// (start) to the server's first / last send of the same request (requests paired by the order of their
// first chunks), so the client's error is only each chunk's trip over loopback into its event loop.
// Medians, so one descheduled thread on a loaded CI box cannot move them.
void expect_matches_truth(const BenchResult& r, const ScriptedServer& server) {
  const std::vector<test::ServedTiming> served = server.served();
  ASSERT_EQ(served.size(), r.records.size());
  std::vector<double> itl, tpot;
  std::vector<std::pair<double, double>> server_first_last;
  for (const test::ServedTiming& t : served) {
    const std::vector<double>& c = t.chunk_s;
    for (size_t k = 1; k < c.size(); ++k) itl.push_back((c[k] - c[k - 1]) * 1e3);
    if (t.tokens > 1) tpot.push_back((c.back() - c.front()) * 1e3 / (t.tokens - 1));
    server_first_last.emplace_back(c.front(), c.back());
  }
  std::vector<const RequestRecord*> records;
  for (const RequestRecord& rec : r.records) records.push_back(&rec);
  std::sort(records.begin(), records.end(), [](auto* a, auto* b) { return a->first_chunk_s < b->first_chunk_s; });
  std::sort(server_first_last.begin(), server_first_last.end());
  std::vector<double> ttft, e2el;
  for (size_t i = 0; i < records.size(); ++i) {
    const double start = r.origin_steady_s + records[i]->start_s;
    ttft.push_back((server_first_last[i].first - start) * 1e3);
    e2el.push_back((server_first_last[i].second - start) * 1e3);
  }
  const Distribution itl_truth = summarize(itl, {}), tpot_truth = summarize(tpot, {});
  EXPECT_EQ(r.itl_ms.count, itl_truth.count);
  EXPECT_EQ(r.tpot_ms.count, tpot_truth.count);
  EXPECT_NEAR(r.itl_ms.mean, itl_truth.mean, kMs);
  EXPECT_NEAR(r.itl_ms.median, itl_truth.median, kMs);
  EXPECT_NEAR(r.tpot_ms.mean, tpot_truth.mean, kMs);
  EXPECT_NEAR(r.tpot_ms.median, tpot_truth.median, kMs);
  EXPECT_NEAR(r.ttft_ms.median, summarize(ttft, {}).median, kMs);
  EXPECT_NEAR(r.e2el_ms.median, summarize(e2el, {}).median, kMs);
}

TEST(BenchClientAccuracy, SingleTokenChunksMatchTheScript) {
  ScriptedServer server([](int, const nlohmann::json&) { return simple_script(0.050, 0.020, 10); });
  BenchConfig c = config_for(server, 8);
  c.max_concurrency = 4;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.completed, 8);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.total_output_tokens, 80);
  EXPECT_EQ(r.total_input_tokens, 8 * 7);  // from usage, not the dataset's estimate
  expect_matches_truth(r, server);
  EXPECT_EQ(r.itl_ms.count, 8u * 9u);
  EXPECT_NEAR(r.ttft_ms.median, 50.0, kScriptMs);
  EXPECT_NEAR(r.itl_ms.median, 20.0, kScriptMs);
  EXPECT_NEAR(r.tpot_ms.median, 20.0, kScriptMs);
  EXPECT_NEAR(r.e2el_ms.median, 50.0 + 9 * 20.0, kScriptMs);
  EXPECT_NEAR(r.output_tps_per_user.median, 1000.0 / r.tpot_ms.median, 1.0);
  EXPECT_EQ(server.connections_accepted(), 4);           // keep-alive: one connection per slot
}

TEST(BenchClientAccuracy, MultiTokenChunksGiveOneItlPerChunkAndTokenTpot) {
  Script s;
  s.chunks = {{0.040, 3}, {0.030, 3}, {0.030, 3}, {0.030, 3}, {0.030, 3}};
  ScriptedServer server([&](int, const nlohmann::json&) { return s; });
  BenchConfig c = config_for(server, 6);
  c.max_concurrency = 3;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.completed, 6);
  EXPECT_EQ(r.total_output_tokens, 6 * 15);
  EXPECT_EQ(r.itl_ms.count, 6u * 4u);  // vLLM: one ITL per chunk, not per token
  expect_matches_truth(r, server);
  EXPECT_NEAR(r.itl_ms.median, 30.0, kScriptMs);
  EXPECT_NEAR(r.ttft_ms.median, 40.0, kScriptMs);
  EXPECT_NEAR(r.tpot_ms.median, 4 * 30.0 / 14, kScriptMs / 14);  // (E2EL - TTFT) / (tokens - 1)
  EXPECT_NEAR(r.e2el_ms.mean, 160.0, kScriptMs);
}

TEST(BenchClientAccuracy, ChatEndpointParsesDeltasAndKeepsText) {
  ScriptedServer server([](int, const nlohmann::json& body) {
    Script s = simple_script(0.010, 0.010, 3, 2);
    if (!body.contains("messages") || !body.value("stream", false)) s.status = 400;  // the request shape
    if (!body.contains("stream_options") || !body["stream_options"].value("include_usage", false)) s.status = 400;
    return s;
  });
  BenchConfig c = config_for(server, 3);
  c.endpoint = "/v1/chat/completions";
  c.keep_text = true;
  const BenchResult r = run_bench(c);
  ASSERT_EQ(r.completed, 3) << (r.errors.empty() ? "" : r.errors[0].first);
  EXPECT_EQ(r.total_output_tokens, 18);
  EXPECT_EQ(r.records[0].text, " tok tok tok tok tok tok");
}

TEST(BenchClientAccuracy, FailuresAreCountedAndGroupedByMessage) {
  ScriptedServer server([](int n, const nlohmann::json&) {
    Script s = simple_script(0.005, 0.005, 4);
    switch (n % 5) {
      case 1:
        s.status = 500;
        s.error_body = R"({"error":{"message":"engine died","type":"InternalServerError","code":500}})";
        break;
      case 2:
        s.status = 400;  // default body: "scripted failure"
        break;
      case 3:
        s.disconnect_after = 2;
        break;
      case 4:
        s.error_event = "out of KV cache";
        break;
      default:
        break;
    }
    return s;
  });
  BenchConfig c = config_for(server, 20);
  c.max_concurrency = 2;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.completed, 4);
  EXPECT_EQ(r.failed, 16);
  EXPECT_EQ(r.total_output_tokens, 16);
  std::map<std::string, int> groups(r.errors.begin(), r.errors.end());
  EXPECT_EQ(groups["HTTP 500: engine died"], 4);
  EXPECT_EQ(groups["HTTP 400: scripted failure"], 4);
  EXPECT_EQ(groups["error event in stream: out of KV cache"], 4);
  int broken = 0;
  for (const auto& [message, count] : groups)
    if (message.rfind("stream broken mid-response", 0) == 0) broken += count;
  EXPECT_EQ(broken, 4);
  EXPECT_EQ(groups.size(), 4u);
}

TEST(BenchClientAccuracy, StalledStreamTimesOut) {
  Script s;
  s.chunks = {{0.005, 1}, {10.0, 1}};  // stalls after the first token
  ScriptedServer server([&](int, const nlohmann::json&) { return s; });
  BenchConfig c = config_for(server, 2);
  c.timeout_s = 0.3;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.failed, 2);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].first, "timeout after 0.3 s");
}

TEST(BenchClientAccuracy, ConnectionRefusedFailsEveryRequestWithoutThrowing) {
  BenchConfig c;
  c.base_url = "http://127.0.0.1:" + std::to_string(test::unused_port());
  c.model = "m";
  c.num_prompts = 3;
  c.dataset.input_len = 4;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.completed, 0);
  EXPECT_EQ(r.failed, 3);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].first.find("Connection refused"), std::string::npos) << r.errors[0].first;
}

TEST(BenchClientAccuracy, ConstantRateFollowsTheAbsoluteSchedule) {
  ScriptedServer server([](int, const nlohmann::json&) { return simple_script(0.002, 0.002, 2); });
  BenchConfig c = config_for(server, 40);
  c.request_rate = 50.0;  // one every 20 ms
  c.burstiness = std::numeric_limits<double>::infinity();
  const BenchResult r = run_bench(c);
  ASSERT_EQ(r.completed, 40);
  std::vector<double> lags;
  for (int i = 0; i < 40; ++i) {
    EXPECT_DOUBLE_EQ(r.records[i].scheduled_s, i * 0.020);
    lags.push_back(r.records[i].start_s - r.records[i].scheduled_s);
  }
  std::sort(lags.begin(), lags.end());
  EXPECT_LT(lags[20], 0.003);  // median: within a few ms of the schedule
  EXPECT_LT(lags.back(), 0.100);  // generous: a loaded CI box can deschedule the client
  // No drift: the server saw the last request ~780 ms after the first.
  const std::vector<double> seen = server.receive_times();
  ASSERT_EQ(seen.size(), 40u);
  EXPECT_NEAR(seen.back() - seen.front(), 0.780, 0.050);
  EXPECT_NEAR(r.duration_s, 0.780 + 0.004, 0.050);
}

TEST(BenchClientAccuracy, MaxConcurrencyIsNeverExceeded) {
  ScriptedServer server([](int, const nlohmann::json&) { return simple_script(0.020, 0.020, 4); });
  BenchConfig c = config_for(server, 15);
  c.max_concurrency = 3;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.completed, 15);
  EXPECT_EQ(server.max_active(), 3);
  EXPECT_LE(r.max_concurrent_requests, 3);
  // Request i waits for the (i/3)-th wave of 80 ms responses; the last wave waited ~4 x 80 ms.
  EXPECT_GT(r.slot_wait_ms.max, 4 * 80.0 - 10.0);
  EXPECT_LT(r.slot_wait_ms.max, 4 * 80.0 + 80.0);
  EXPECT_LT(r.schedule_lag_ms.max, 50.0);  // slot waiting is not counted as client lag
}

TEST(BenchClientAccuracy, WarmupRequestsAreSentButNotCounted) {
  ScriptedServer server([](int, const nlohmann::json&) { return simple_script(0.002, 0.002, 3); });
  BenchConfig c = config_for(server, 5);
  c.warmup = 3;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(server.requests_received(), 8);
  EXPECT_EQ(r.completed, 5);
  EXPECT_EQ(r.records.size(), 5u);
  EXPECT_EQ(r.total_output_tokens, 15);
}

TEST(BenchClientAccuracy, GoodputCountsRequestsMeetingEverySlo) {
  ScriptedServer server([](int n, const nlohmann::json&) {
    return n % 2 == 0 ? simple_script(0.010, 0.005, 5) : simple_script(0.150, 0.005, 5);
  });
  BenchConfig c = config_for(server, 10);
  c.max_concurrency = 1;
  c.goodput = parse_goodput({"ttft:80", "tpot:30"});
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.completed, 10);
  EXPECT_EQ(r.good_requests, 5);
  EXPECT_DOUBLE_EQ(r.good_request_fraction, 0.5);
  ASSERT_TRUE(r.request_goodput.has_value());
  EXPECT_DOUBLE_EQ(*r.request_goodput, 5 / r.duration_s);
}

TEST(BenchClientAccuracy, BodyEndingAtConnectionCloseIsComplete) {
  ScriptedServer server([](int, const nlohmann::json&) {
    Script s = simple_script(0.002, 0.002, 3, 2);
    s.eof_delimited = true;
    return s;
  });
  const BenchResult r = run_bench(config_for(server, 3));
  EXPECT_EQ(r.completed, 3) << (r.errors.empty() ? "" : r.errors[0].first);
  EXPECT_EQ(r.total_output_tokens, 18);
}

TEST(BenchClientAccuracy, NonStreamingReplyIsAFailureThatSaysWhy) {
  ScriptedServer server([](int, const nlohmann::json&) {
    Script s;
    s.json_body = true;
    return s;
  });
  const BenchResult r = run_bench(config_for(server, 2));
  EXPECT_EQ(r.failed, 2);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].first.rfind("HTTP 200 without SSE events (Content-Type: application/json): {\"id\"", 0), 0u)
      << r.errors[0].first;
}

TEST(BenchClientAccuracy, ReusedConnectionClosedByServerIsRetriedOnce) {
  ScriptedServer server([](int, const nlohmann::json&) {
    Script s = simple_script(0.002, 0.002, 2);
    s.silent_close = true;
    return s;
  });
  BenchConfig c = config_for(server, 6);
  c.max_concurrency = 1;
  const BenchResult r = run_bench(c);
  EXPECT_EQ(r.completed, 6) << (r.errors.empty() ? "" : r.errors[0].first);
  EXPECT_EQ(server.requests_received(), 6);
}

}  // namespace
}  // namespace serval::bench
