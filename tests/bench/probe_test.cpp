// bench probe against a scripted server that answers unseen prompts slowly (a prefix-cache miss) and
// repeated ones fast: cold and warm TTFT are told apart, counts are exact, every cold prompt is new.
#include "bench/probe.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "bench/scripted_server.h"
#include "core/error.h"

namespace serval::bench {
namespace {

using test::ScriptedServer;
using test::simple_script;

constexpr double kScriptMs = 25.0;  // the scripted server's timer jitter on a busy box

struct SeenPrompts {
  std::mutex mutex;
  std::set<std::string> seen;
  int repeats = 0;
  bool first_seen(const std::string& prompt) {
    std::lock_guard<std::mutex> lock(mutex);
    const bool fresh = seen.insert(prompt).second;
    if (!fresh) ++repeats;
    return fresh;
  }
};

TEST(BenchProbe, ColdPromptsAreSlowerThanTheirWarmRepeats) {
  SeenPrompts prompts;
  ScriptedServer server([&](int, const nlohmann::json& body) {
    const std::string prompt = body.contains("prompt") ? body["prompt"].get<std::string>() : body["messages"].dump();
    return simple_script(prompts.first_seen(prompt) ? 0.080 : 0.010, 0.002, body.value("max_tokens", 1));
  });
  ProbeConfig c;
  c.base.base_url = server.base_url();
  c.base.model = "scripted";
  c.num_probes = 4;
  c.warm_repeats = 2;
  c.prompt_len = 64;
  c.max_tokens = 3;
  const ProbeResult r = run_probe(c);
  EXPECT_EQ(r.completed, 4 * 3);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.cold_ttfts_ms.size(), 4u);
  EXPECT_EQ(r.warm_ttfts_ms.size(), 8u);
  EXPECT_EQ(server.requests_received(), 1 + 4 * 3);  // the connection primer + the probes
  EXPECT_EQ(prompts.seen.size(), 1u + 4u);            // every cold prompt (and the primer) was new
  EXPECT_EQ(prompts.repeats, 8);
  EXPECT_NEAR(r.cold_ttft_ms.median, 80.0, kScriptMs);
  EXPECT_NEAR(r.warm_ttft_ms.median, 10.0, kScriptMs);
  EXPECT_GT(r.ttft_ratio, 2.0);
  EXPECT_NEAR(r.ttft_ratio, r.cold_ttft_ms.median / r.warm_ttft_ms.median, 1e-9);
  EXPECT_EQ(server.max_active(), 1);  // one request at a time

  const nlohmann::ordered_json j = probe_json(r, c);
  EXPECT_EQ(j["cold_ttft_ms"]["count"], 4);
  EXPECT_EQ(j["warm_ttft_ms"]["count"], 8);
  EXPECT_TRUE(j["cold_ttft_ms"].contains("p95"));
  EXPECT_TRUE(j["warm_e2el_ms"].contains("spread"));
  EXPECT_EQ(j["ttft_cold_warm_ratio"], r.ttft_ratio);
  EXPECT_NE(format_probe(r).find("TTFT cold/warm ratio"), std::string::npos);
}

TEST(BenchProbe, ChatEndpointAndARunWhereEverythingFails) {
  SeenPrompts prompts;
  ScriptedServer server([&](int, const nlohmann::json& body) {
    test::Script s = simple_script(0.002, 0.001, 2);
    if (!body.contains("messages")) s.status = 400;
    else prompts.first_seen(body["messages"].dump());
    return s;
  });
  ProbeConfig c;
  c.base.base_url = server.base_url();
  c.base.model = "scripted";
  c.base.endpoint = "/v1/chat/completions";
  c.num_probes = 2;
  c.prompt_len = 16;
  ProbeResult r = run_probe(c);
  EXPECT_EQ(r.completed, 4);
  EXPECT_EQ(prompts.repeats, 2);

  c.base.endpoint = "/v1/completions";  // the scripted server refuses it
  r = run_probe(c);
  EXPECT_EQ(r.completed, 0);
  EXPECT_EQ(r.failed, 4);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.ttft_ratio, 0.0);
}

TEST(BenchProbe, BadSettingsAreRefused) {
  ProbeConfig c;
  c.base.model = "m";
  c.num_probes = 0;
  EXPECT_THROW(run_probe(c), Error);
  c.num_probes = 1;
  c.max_tokens = 0;
  EXPECT_THROW(run_probe(c), Error);
}

}  // namespace
}  // namespace serval::bench
