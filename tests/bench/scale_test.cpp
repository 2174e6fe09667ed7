// Scale: one client process holds 1,000 concurrent SSE streams (~50 tokens/s each) on one event-loop
// thread without a growing schedule lag, and reports its CPU time per streamed token.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstdio>

#include "bench/run_bench.h"
#include "bench/scripted_server.h"

namespace serval::bench {
namespace {

TEST(BenchClientScale, ThousandConcurrentStreamsWithoutGrowingLag) {
  constexpr int kStreams = 1000;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_max < 2 * kStreams + 100)  // client and server sockets live in this one process
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << files.rlim_max << " is below " << 2 * kStreams + 100;
  constexpr int kTokens = 100;  // 50 ms to first token, then one token every 20 ms: ~2.05 s per stream
  test::ScriptedServer server([](int, const nlohmann::json&) { return test::simple_script(0.050, 0.020, kTokens); });
  BenchConfig c;
  c.base_url = server.base_url();
  c.model = "scripted";
  c.num_prompts = kStreams;
  c.request_rate = 500.0;  // all sent within 2 s, so all 1,000 streams overlap around t = 2 s
  c.burstiness = std::numeric_limits<double>::infinity();
  c.dataset.input_len = 32;
  c.dataset.output_len = kTokens;
  c.percentiles = {50, 99};
  const BenchResult r = run_bench(c);

  EXPECT_EQ(r.completed, kStreams) << (r.errors.empty() ? "" : r.errors[0].first);
  EXPECT_EQ(r.total_output_tokens, int64_t{kStreams} * kTokens);
  EXPECT_GE(r.max_concurrent_requests, 900);
  // Generous bounds (a loaded 2-core CI box): the lag must stay bounded, not grow with the load.
  EXPECT_LT(r.schedule_lag_ms.percentiles[1].second, 200.0);
  EXPECT_LT(r.schedule_lag_ms.max, 1000.0);
  std::printf("[scale] %d streams, peak %d concurrent, %.2f s, %.0f tok/s; schedule lag p50 %.2f ms p99 %.2f ms max %.2f ms; "
              "TTFT p50 %.2f ms, ITL p50 %.2f ms p99 %.2f ms; client CPU %.3f s = %.2f us/token\n",
              r.completed, r.max_concurrent_requests, r.duration_s, r.output_throughput, r.schedule_lag_ms.median,
              r.schedule_lag_ms.percentiles[1].second, r.schedule_lag_ms.max, r.ttft_ms.median, r.itl_ms.median,
              r.itl_ms.percentiles[1].second, r.client_cpu_s, r.client_cpu_us_per_token);
  RecordProperty("client_cpu_us_per_token", std::to_string(r.client_cpu_us_per_token));
}

}  // namespace
}  // namespace serval::bench
