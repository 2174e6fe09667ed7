// Metric math: numpy-linear percentiles, population std, vLLM's TPOT/goodput rules, error grouping,
// arrival schedules.
#include "bench/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "bench/arrival_schedule.h"
#include "bench/bench_config.h"
#include "core/error.h"

namespace serval::bench {
namespace {

TEST(BenchPercentile, MatchesNumpyLinearInterpolation) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile_linear(v, 50), 2.5);   // np.percentile([1,2,3,4], 50)
  EXPECT_DOUBLE_EQ(percentile_linear(v, 99), 3.97);  // np.percentile([1,2,3,4], 99)
  EXPECT_DOUBLE_EQ(percentile_linear(v, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile_linear({7}, 90), 7.0);
}

TEST(BenchSummarize, MeanMedianPopulationStd) {
  const Distribution d = summarize({4, 2, 8, 6}, {50, 99});
  EXPECT_DOUBLE_EQ(d.mean, 5.0);
  EXPECT_DOUBLE_EQ(d.median, 5.0);
  EXPECT_DOUBLE_EQ(d.std, std::sqrt(5.0));  // np.std (ddof=0)
  EXPECT_DOUBLE_EQ(d.percentiles[1].second, 7.94);
  const Distribution slow = summarize({10, 20, 30, 40, 50}, {90}, /*lower_is_worse=*/true);
  EXPECT_DOUBLE_EQ(slow.percentiles[0].second, 14.0);  // 90% of users get at least this
  const Distribution empty = summarize({}, {99});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.mean, 0.0);
}

RequestRecord ok_record(double start, double ttft, std::vector<float> itls, int out_tokens) {
  RequestRecord r;
  r.scheduled_s = r.arrival_s = r.start_s = start;
  r.first_chunk_s = start + ttft;
  double t = r.first_chunk_s;
  for (float g : itls) t += g;
  r.last_chunk_s = t;
  r.end_s = t + 0.001;
  r.itl_s = std::move(itls);
  r.num_chunks = static_cast<int>(r.itl_s.size()) + 1;
  r.prompt_tokens = 10;
  r.completion_tokens = out_tokens;
  r.success = true;
  return r;
}

TEST(BenchComputeMetrics, VllmDefinitionsAndGoodput) {
  ClientRunResult run;
  run.duration_s = 2.0;
  run.records.push_back(ok_record(0.0, 0.100, {0.02f, 0.02f, 0.02f}, 4));        // tpot 20 ms
  run.records.push_back(ok_record(0.5, 0.300, {0.05f}, 6));                      // multi-token chunks: tpot 10 ms
  run.records.push_back(ok_record(1.0, 0.050, {}, 1));                           // one token: no TPOT
  RequestRecord bad;
  bad.error = "HTTP 500: boom";
  run.records.push_back(bad);
  run.records.push_back(bad);
  MetricsOptions opt;
  opt.percentiles = {50};
  opt.goodput.ttft_ms = 200;
  const BenchResult r = compute_metrics(run, {0, 0, 0, 0, 0}, opt);
  EXPECT_EQ(r.completed, 3);
  EXPECT_EQ(r.failed, 2);
  EXPECT_EQ(r.total_input_tokens, 30);
  EXPECT_EQ(r.total_output_tokens, 11);
  EXPECT_DOUBLE_EQ(r.request_throughput, 1.5);
  EXPECT_DOUBLE_EQ(r.output_throughput, 5.5);
  EXPECT_DOUBLE_EQ(r.total_token_throughput, 20.5);
  EXPECT_EQ(r.tpot_ms.count, 2u);
  EXPECT_NEAR(r.tpot_ms.mean, 15.0, 1e-4);
  EXPECT_EQ(r.itl_ms.count, 4u);  // per chunk, pooled over requests
  EXPECT_NEAR(r.ttft_ms.mean, 150.0, 1e-9);
  EXPECT_NEAR(r.e2el_ms.percentiles[0].second, 160.0, 1e-4);
  EXPECT_EQ(r.good_requests, 2);  // the 300 ms TTFT misses the SLO
  ASSERT_TRUE(r.request_goodput.has_value());
  EXPECT_DOUBLE_EQ(*r.request_goodput, 1.0);
  EXPECT_DOUBLE_EQ(r.good_request_fraction, 0.4);  // errors count in the denominator
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], (std::pair<std::string, int>{"HTTP 500: boom", 2}));
}

TEST(BenchComputeMetrics, MissingUsageFallsBackToLocalCountAndIsCounted) {
  ClientRunResult run;
  run.duration_s = 1.0;
  RequestRecord r = ok_record(0, 0.01, {0.01f}, -1);
  r.prompt_tokens = -1;
  r.text = "a b c";
  run.records.push_back(r);
  MetricsOptions opt;
  BenchResult no_tok = compute_metrics(run, {42}, opt);
  EXPECT_EQ(no_tok.usage_missing, 1);
  EXPECT_EQ(no_tok.total_output_tokens, 2);  // chunks
  EXPECT_EQ(no_tok.total_input_tokens, 42);  // the dataset's length
  opt.token_counter = [](std::string_view t, bool) { return static_cast<int>((t.size() + 1) / 2); };
  EXPECT_EQ(compute_metrics(run, {42}, opt).total_output_tokens, 3);
}

TEST(BenchComputeMetrics, TokenizerCrossCheckCountsMismatches) {
  ClientRunResult run;
  run.duration_s = 1.0;
  RequestRecord a = ok_record(0, 0.01, {0.01f}, 2);
  a.text = "x y";
  RequestRecord b = ok_record(0, 0.01, {0.01f}, 5);
  b.text = "x y";
  run.records = {a, b};
  MetricsOptions opt;
  opt.token_counter = [](std::string_view, bool) { return 2; };
  opt.compare_prompt_tokens = true;
  const BenchResult r = compute_metrics(run, {10, 11}, opt);
  ASSERT_TRUE(r.token_check.has_value());
  EXPECT_EQ(r.token_check->requests_checked, 2);
  EXPECT_EQ(r.token_check->output_token_mismatches, 1);
  EXPECT_EQ(r.token_check->prompt_token_mismatches, 1);
}

TEST(BenchArrivalSchedule, ConstantPoissonAndInfinite) {
  const auto inf = arrival_offsets(5, std::numeric_limits<double>::infinity(), 1.0, 0);
  for (double t : inf) EXPECT_EQ(t, 0.0);
  const auto constant = arrival_offsets(5, 4.0, std::numeric_limits<double>::infinity(), 0);
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(constant[i], i * 0.25);
  const auto poisson = arrival_offsets(1000, 10.0, 1.0, 7);
  EXPECT_EQ(poisson.front(), 0.0);
  EXPECT_NEAR(poisson.back(), 99.9, 1e-9);  // rescaled so the mean rate is exact
  for (size_t i = 1; i < poisson.size(); ++i) EXPECT_GE(poisson[i], poisson[i - 1]);
  EXPECT_EQ(poisson, arrival_offsets(1000, 10.0, 1.0, 7));
  EXPECT_NE(poisson, arrival_offsets(1000, 10.0, 1.0, 8));
  // Gamma shape 1 gaps have coefficient of variation ~1; shape 16 is much smoother.
  auto cv = [](const std::vector<double>& t) {
    std::vector<double> gaps;
    for (size_t i = 1; i < t.size(); ++i) gaps.push_back(t[i] - t[i - 1]);
    const Distribution d = summarize(gaps, {});
    return d.std / d.mean;
  };
  EXPECT_NEAR(cv(poisson), 1.0, 0.15);
  EXPECT_LT(cv(arrival_offsets(1000, 10.0, 16.0, 7)), 0.4);
}

TEST(BenchConfigParsing, GoodputPercentilesRates) {
  const GoodputSlo slo = parse_goodput({"ttft:500", "tpot:50 e2el:10000"});
  EXPECT_EQ(*slo.ttft_ms, 500);
  EXPECT_EQ(*slo.tpot_ms, 50);
  EXPECT_EQ(*slo.e2el_ms, 10000);
  EXPECT_THROW(parse_goodput({"itl:5"}), Error);
  EXPECT_THROW(parse_goodput({"ttft"}), Error);
  EXPECT_THROW(parse_goodput({"ttft:abc"}), Error);
  EXPECT_EQ(parse_percentiles("50,90,99.9"), (std::vector<double>{50, 90, 99.9}));
  EXPECT_THROW(parse_percentiles("0"), Error);
  EXPECT_THROW(parse_percentiles("50,x"), Error);
  EXPECT_TRUE(std::isinf(parse_rate("inf", "--request-rate")));
  EXPECT_EQ(parse_rate("2.5", "--request-rate"), 2.5);
  EXPECT_THROW(parse_rate("-1", "--request-rate"), Error);
  EXPECT_EQ(percentile_key(99), "p99");
  EXPECT_EQ(percentile_key(99.9), "p99.9");
}

}  // namespace
}  // namespace serval::bench
