// bench sweep against the scripted server: one cell per grid point with exact counts, the SLO check and
// sweet spot, errors per cell, /metrics scraping (gauge maxima, counter deltas, hit rate), CSV/JSON.
#include "bench/sweep.h"

#include <gtest/gtest.h>

#include <atomic>
#include <sstream>

#include "bench/metrics_scraper.h"
#include "bench/prometheus_text.h"
#include "bench/scripted_server.h"
#include "core/error.h"

namespace serval::bench {
namespace {

using test::Script;
using test::ScriptedServer;
using test::simple_script;

SweepConfig sweep_for(const ScriptedServer& server) {
  SweepConfig s;
  s.base.base_url = server.base_url();
  s.base.model = "scripted";
  s.base.dataset.spec = "chat";
  s.label = "scripted-box";
  return s;
}

TEST(BenchSweep, OneCellPerGridPointWithExactCounts) {
  // Every request streams exactly its max_tokens, one token per chunk.
  ScriptedServer server([](int, const nlohmann::json& body) {
    return simple_script(0.004, 0.001, body.value("max_tokens", 1));
  });
  SweepConfig s = sweep_for(server);
  s.concurrencies = {1, 3};
  s.max_tokens = {2, 5};
  s.num_prompts = 6;
  std::vector<size_t> progress;
  const SweepResult r = run_sweep(s, [&](size_t i, size_t n, const SweepCell&) {
    EXPECT_EQ(n, 4u);
    progress.push_back(i);
  });
  EXPECT_EQ(progress, (std::vector<size_t>{0, 1, 2, 3}));
  ASSERT_EQ(r.cells.size(), 4u);
  const int expected[4][2] = {{1, 2}, {1, 5}, {3, 2}, {3, 5}};
  for (size_t i = 0; i < 4; ++i) {
    const SweepCell& c = r.cells[i];
    EXPECT_EQ(c.concurrency, expected[i][0]);
    EXPECT_EQ(c.max_tokens, expected[i][1]);
    EXPECT_EQ(c.result.completed, 6);
    EXPECT_EQ(c.result.failed, 0);
    EXPECT_EQ(c.result.total_output_tokens, 6 * c.max_tokens);  // the max_tokens axis overrides chat's 64-256
    EXPECT_LE(c.result.max_concurrent_requests, c.concurrency);
    EXPECT_TRUE(c.meets_slo);  // no SLO given: a cell without errors meets it
    EXPECT_TRUE(c.result.records.empty());  // dropped after metrics
  }
  EXPECT_EQ(server.requests_received(), 24);
  EXPECT_LE(server.max_active(), 3);

  const nlohmann::ordered_json j = sweep_json(r);
  ASSERT_EQ(j["rows"].size(), 4u);
  EXPECT_EQ(j["rows"][3]["label"], "scripted-box");
  EXPECT_EQ(j["rows"][3]["concurrency"], 3);
  EXPECT_EQ(j["rows"][3]["max_tokens"], 5);
  EXPECT_EQ(j["rows"][3]["errors"], 0);
  EXPECT_GT(j["rows"][3]["p95_ttft_ms"].get<double>(), 0.0);
  EXPECT_EQ(j["results"][3]["max_concurrency"], 3);
  EXPECT_EQ(j["results"][3]["total_output_tokens"], 30);
  EXPECT_TRUE(j["results"][3].contains("p95_itl_ms"));

  const std::string csv = sweep_csv(j);
  std::istringstream lines(csv);
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("label,concurrency,request_rate,max_tokens,num_prompts,completed,errors,p50_ttft_ms,p95_ttft_ms,"
                         "p50_e2el_ms,p95_e2el_ms,mean_tpot_ms,p95_tpot_ms,p50_itl_ms,p95_itl_ms,request_throughput,"
                         "output_throughput",
                         0),
            0u)
      << header;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_EQ(line.rfind("scripted-box,", 0), 0u) << line;
  }
  EXPECT_EQ(n, 4);
  EXPECT_NE(format_sweep_table(j).find("sweet spot"), std::string::npos);
}

TEST(BenchSweep, SweetSpotIsTheFastestCellMeetingTheSlo) {
  // Long answers get a slow first token (80 ms), short ones a fast one (5 ms); the SLO is TTFT <= 40 ms.
  ScriptedServer server([](int, const nlohmann::json& body) {
    const int max_tokens = body.value("max_tokens", 1);
    return simple_script(max_tokens >= 8 ? 0.080 : 0.005, 0.002, max_tokens);
  });
  SweepConfig s = sweep_for(server);
  s.concurrencies = {1, 4};
  s.max_tokens = {4, 8};
  s.num_prompts = 8;
  s.base.goodput.ttft_ms = 40;
  const SweepResult r = run_sweep(s);
  ASSERT_EQ(r.cells.size(), 4u);
  for (const SweepCell& c : r.cells) EXPECT_EQ(c.meets_slo, c.max_tokens == 4) << c.concurrency << "/" << c.max_tokens;
  ASSERT_TRUE(r.sweet_spot.has_value());
  EXPECT_EQ(r.cells[*r.sweet_spot].max_tokens, 4);
  EXPECT_EQ(r.cells[*r.sweet_spot].concurrency, 4);  // four streams at once: the most throughput
  const nlohmann::ordered_json j = sweep_json(r);
  EXPECT_EQ(j["sweet_spot"], *r.sweet_spot);
  EXPECT_EQ(j["goodput"]["ttft_ms"], 40.0);
  EXPECT_TRUE(j["rows"][0]["request_goodput"].is_number());
}

TEST(BenchSweep, FailedRequestsAreCountedPerCellAndFailTheSlo) {
  ScriptedServer server([](int n, const nlohmann::json& body) {
    Script s = simple_script(0.002, 0.001, body.value("max_tokens", 1));
    if (body.value("max_tokens", 0) == 3 && n % 2 == 0) s.status = 500;
    return s;
  });
  SweepConfig s = sweep_for(server);
  s.concurrencies = {1};
  s.max_tokens = {2, 3};
  s.num_prompts = 4;
  const SweepResult r = run_sweep(s);
  ASSERT_EQ(r.cells.size(), 2u);
  EXPECT_EQ(r.cells[0].result.failed, 0);
  EXPECT_EQ(r.cells[1].result.failed, 2);
  EXPECT_EQ(r.cells[1].result.completed, 2);
  EXPECT_FALSE(r.cells[1].meets_slo);
  ASSERT_TRUE(r.sweet_spot.has_value());
  EXPECT_EQ(*r.sweet_spot, 0u);
  const nlohmann::ordered_json row = sweep_json(r)["rows"][1];
  EXPECT_EQ(row["errors"], 2);
  EXPECT_NE(row["first_error"].get<std::string>().find("500"), std::string::npos) << row["first_error"];
}

TEST(BenchSweep, RateGridSetsTheRateAndKeepsTheCap) {
  ScriptedServer server([](int, const nlohmann::json& body) { return simple_script(0.002, 0.001, body.value("max_tokens", 1)); });
  SweepConfig s = sweep_for(server);
  s.request_rates = {50, 100};
  s.max_tokens = {2};
  s.num_prompts = 5;
  s.base.max_concurrency = 2;
  const SweepResult r = run_sweep(s);
  ASSERT_EQ(r.cells.size(), 2u);
  EXPECT_EQ(*r.cells[1].request_rate, 100.0);
  EXPECT_EQ(r.cells[1].concurrency, 2);
  const nlohmann::ordered_json j = sweep_json(r);
  EXPECT_EQ(j["grid"], "request_rate");
  EXPECT_EQ(j["results"][1]["request_rate"], 100.0);
  EXPECT_EQ(j["rows"][0]["request_rate"], 50.0);
}

// A /metrics page whose counters grow with the requests the server has received.
std::string metrics_page(int received) {
  return "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
         "# TYPE vllm:kv_cache_usage_perc gauge\n"
         "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} " + std::to_string(0.01 * received) + "\n"
         "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 3\n"
         "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 1\n"
         "# TYPE vllm:num_preemptions counter\n"
         "vllm:num_preemptions_total{engine=\"0\",model_name=\"m\"} " + std::to_string(2 * received) + "\n"
         "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} " + std::to_string(100 * received) + "\n"
         "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} " + std::to_string(25 * received) + "\n";
}

TEST(BenchSweep, ScrapesMetricsPerCell) {
  std::atomic<int> metrics_reads{0};
  std::atomic<ScriptedServer*> self{nullptr};
  ScriptedServer server([](int, const nlohmann::json& body) { return simple_script(0.010, 0.005, body.value("max_tokens", 1)); },
                        [&](const std::string& target) -> std::pair<int, std::string> {
                          if (target != "/metrics") return {404, "no"};
                          ++metrics_reads;
                          ScriptedServer* srv = self.load();
                          return {200, metrics_page(srv ? srv->requests_received() : 0)};
                        });
  self.store(&server);
  SweepConfig s = sweep_for(server);
  s.concurrencies = {2};
  s.max_tokens = {4, 6};
  s.num_prompts = 6;
  s.scrape_metrics = true;
  s.scrape_interval_s = 0.01;
  const SweepResult r = run_sweep(s);
  ASSERT_EQ(r.cells.size(), 2u);
  for (const SweepCell& c : r.cells) {
    ASSERT_TRUE(c.server.has_value());
    const ServerMetrics& m = *c.server;
    EXPECT_GE(m.num_scrapes, 2);
    EXPECT_EQ(m.scrape_errors, 0);
    EXPECT_EQ(*m.num_preemptions, 2.0 * 6);        // counter delta over the cell's 6 requests
    EXPECT_EQ(*m.prefix_cache_queries, 100.0 * 6);
    EXPECT_EQ(*m.prefix_cache_hit_rate, 0.25);
    EXPECT_EQ(*m.num_requests_waiting_max, 3.0);
  }
  EXPECT_NEAR(*r.cells[1].server->kv_cache_usage_max, 0.12, 1e-9);  // after all 12 requests
  EXPECT_GE(metrics_reads.load(), 4);
  const nlohmann::ordered_json j = sweep_json(r);
  EXPECT_EQ(j["rows"][1]["prefix_cache_hit_rate"], 0.25);
  EXPECT_EQ(j["rows"][1]["num_preemptions"], 12.0);
  EXPECT_EQ(j["results"][1]["server_metrics"]["prefix_cache_hits"], 150.0);
}

TEST(BenchSweep, ScrapeFailuresAreRecordedNotFatal) {
  ScriptedServer server([](int, const nlohmann::json& body) { return simple_script(0.002, 0.001, body.value("max_tokens", 1)); });
  SweepConfig s = sweep_for(server);  // no GET handler: /metrics answers 404
  s.concurrencies = {1};
  s.max_tokens = {2};
  s.num_prompts = 2;
  s.scrape_metrics = true;
  const SweepResult r = run_sweep(s);
  ASSERT_TRUE(r.cells[0].server.has_value());
  EXPECT_EQ(r.cells[0].result.completed, 2);
  EXPECT_GE(r.cells[0].server->scrape_errors, 2);
  EXPECT_NE(r.cells[0].server->first_error.find("404"), std::string::npos);
  EXPECT_FALSE(r.cells[0].server->prefix_cache_hit_rate.has_value());
}

TEST(BenchSweep, BadGridsAreRefusedBeforeSending) {
  ScriptedServer server([](int, const nlohmann::json&) { return simple_script(0.001, 0.001, 1); });
  SweepConfig s = sweep_for(server);
  s.max_tokens = {};
  EXPECT_THROW(run_sweep(s), Error);
  s = sweep_for(server);
  s.concurrencies = {0};
  EXPECT_THROW(run_sweep(s), Error);
  s = sweep_for(server);
  s.base.model = "";
  EXPECT_THROW(run_sweep(s), Error);
  EXPECT_EQ(server.requests_received(), 0);
  EXPECT_EQ(parse_int_list("1, 4,8", "--concurrency"), (std::vector<int>{1, 4, 8}));
  EXPECT_THROW(parse_int_list("1,x", "--concurrency"), Error);
  EXPECT_THROW(parse_int_list("1.5", "--concurrency"), Error);
  EXPECT_THROW(parse_int_list("1,,2", "--concurrency"), Error);
  EXPECT_EQ(parse_double_list("0.5,2", "--request-rates"), (std::vector<double>{0.5, 2}));
  EXPECT_THROW(parse_double_list("-1", "--request-rates"), Error);
}

TEST(PrometheusText, ParsesSamplesLabelsAndSkipsJunk) {
  const std::string page =
      "# HELP x a help line with { braces }\n"
      "# TYPE x counter\n"
      "x_total{a=\"1\",b=\"with \\\"quote\\\" and } brace\"} 3.5\n"
      "x_total{a=\"2\"} 1.5 1712345678000\r\n"
      "plain 7\n"
      "inf_gauge +Inf\n"
      "\n"
      "broken{a=\"1\" 5\n"
      "novalue\n"
      "bad 1.2.3\n";
  const std::vector<PromSample> s = parse_prometheus_text(page);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].name, "x_total");
  EXPECT_EQ(s[0].labels, "a=\"1\",b=\"with \\\"quote\\\" and } brace\"");
  EXPECT_EQ(*prom_sum(s, "x_total"), 5.0);
  EXPECT_EQ(*prom_sum(s, "plain"), 7.0);
  EXPECT_TRUE(std::isinf(*prom_sum(s, "inf_gauge")));
  EXPECT_FALSE(prom_sum(s, "x").has_value());
  EXPECT_EQ(*prom_sum_any(s, {"x", "x_total"}), 5.0);
}

TEST(PrometheusText, CounterDeltasAndHitRate) {
  ServerMetrics m;
  observe_counters(m, parse_prometheus_text("vllm:prefix_cache_hits 10\nvllm:prefix_cache_queries 40\n"),
                   parse_prometheus_text("vllm:prefix_cache_hits 40\nvllm:prefix_cache_queries 100\n"));
  EXPECT_EQ(*m.prefix_cache_hits, 30.0);
  EXPECT_EQ(*m.prefix_cache_hit_rate, 0.5);
  EXPECT_FALSE(m.num_preemptions.has_value());  // the server does not export it
  observe_gauges(m, parse_prometheus_text("vllm:gpu_cache_usage_perc 0.4\n"));  // vLLM < 0.10's name
  observe_gauges(m, parse_prometheus_text("vllm:gpu_cache_usage_perc 0.2\n"));
  EXPECT_EQ(*m.kv_cache_usage_max, 0.4);
}

}  // namespace
}  // namespace serval::bench
