#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"

namespace serval {
namespace {

std::vector<float> logits_from_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double v : p) l.push_back(static_cast<float>(std::log(v)));
  return l;
}

SamplingParams params_with(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.seed = 1234;
  return p;
}

TEST(Sampler, GreedyPicksArgmaxAndReportsRawLogprobs) {
  SamplingParams p = params_with(0.0f);
  p.logprobs = 2;
  RequestSampler s(p, {});
  std::vector<float> logits = {0.5f, 3.0f, 1.0f, 3.0f};
  SampleResult r = s.sample(logits, {});
  EXPECT_EQ(r.token_id, 1);  // ties go to the lower id
  double lse = std::log(std::exp(0.5) + std::exp(3.0) + std::exp(1.0) + std::exp(3.0));
  EXPECT_NEAR(r.logprob, 3.0 - lse, 1e-6);
  ASSERT_EQ(r.top_logprobs.size(), 2u);
  EXPECT_EQ(r.top_logprobs[0].id, 1);
  EXPECT_EQ(r.top_logprobs[1].id, 3);
}

TEST(Sampler, RepetitionPenaltyFollowsHuggingFaceSignRule) {
  SamplingParams p = params_with(0.0f);
  p.repetition_penalty = 2.0f;
  // token 0 (prompt) positive logit is divided, token 2 (output) negative logit is multiplied.
  RequestSampler s(p, std::vector<int32_t>{0});
  EXPECT_EQ(s.sample(std::vector<float>{3.0f, 2.0f, -0.1f}, {}).token_id, 1);  // 3/2 = 1.5 < 2
  SamplingParams q = params_with(0.0f);
  q.repetition_penalty = 3.0f;
  RequestSampler s2(q, {});
  // -1 * 3 = -3 makes token 0 lose to token 1 at -2.
  EXPECT_EQ(s2.sample(std::vector<float>{-1.0f, -2.0f}, std::vector<int32_t>{0}).token_id, 1);
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountOutputTokens) {
  SamplingParams p = params_with(0.0f);
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  RequestSampler s(p, std::vector<int32_t>{1, 1, 1});  // prompt tokens are not penalized
  // token 0 seen twice in output: 2.0 - 2*0.5 - 0.25 = 0.75 < 1.0
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.0f}, std::vector<int32_t>{0, 0}).token_id, 1);
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.0f}, std::vector<int32_t>{0}).token_id, 0);  // 1.25 > 1
}

TEST(Sampler, TemperatureSamplingMatchesSoftmaxFrequencies) {
  std::vector<double> probs = {0.5, 0.3, 0.15, 0.05};
  RequestSampler s(params_with(1.0f), {});
  std::vector<float> logits = logits_from_probs(probs);
  std::vector<int> counts(4);
  const int n = 40000;
  for (int i = 0; i < n; ++i) counts[static_cast<size_t>(s.sample(logits, {}).token_id)]++;
  for (size_t i = 0; i < 4; ++i) {
    double sd = std::sqrt(probs[i] * (1 - probs[i]) / n);
    EXPECT_NEAR(counts[i] / static_cast<double>(n), probs[i], 6 * sd) << "token " << i;
  }
}

TEST(Sampler, TopKTopPMinPRestrictTheCandidates) {
  std::vector<float> logits = logits_from_probs({0.4, 0.3, 0.2, 0.1});
  auto sampled_set = [&](SamplingParams p) {
    RequestSampler s(p, {});
    std::set<int32_t> seen;
    for (int i = 0; i < 3000; ++i) seen.insert(s.sample(logits, {}).token_id);
    return seen;
  };
  SamplingParams k = params_with(1.0f);
  k.top_k = 2;
  EXPECT_EQ(sampled_set(k), (std::set<int32_t>{0, 1}));
  SamplingParams tp = params_with(1.0f);
  tp.top_p = 0.75f;  // 0.4 + 0.3 = 0.7 < 0.75, so the third token is needed
  EXPECT_EQ(sampled_set(tp), (std::set<int32_t>{0, 1, 2}));
  SamplingParams mp = params_with(1.0f);
  mp.min_p = 0.5f;  // keeps prob >= 0.2
  EXPECT_EQ(sampled_set(mp), (std::set<int32_t>{0, 1, 2}));
  SamplingParams k1 = params_with(1.0f);
  k1.top_k = 1;
  EXPECT_EQ(sampled_set(k1), (std::set<int32_t>{0}));
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  std::vector<float> logits = logits_from_probs({0.25, 0.25, 0.25, 0.25});
  auto run = [&](uint64_t seed) {
    SamplingParams p = params_with(1.0f);
    p.seed = seed;
    RequestSampler s(p, {});
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(logits, out).token_id);
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Sampler, ValidateNamesTheBadField) {
  auto message = [](SamplingParams p) {
    try {
      p.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  SamplingParams p;
  p.temperature = -0.5f;
  EXPECT_NE(message(p).find("temperature"), std::string::npos);
  p = {};
  p.top_p = 0.0f;
  EXPECT_NE(message(p).find("top_p"), std::string::npos);
  p = {};
  p.top_p = 1.5f;
  EXPECT_NE(message(p).find("top_p"), std::string::npos);
  p = {};
  p.max_tokens = -1;
  EXPECT_NE(message(p).find("max_tokens"), std::string::npos);
  p = {};
  p.repetition_penalty = 0.0f;
  EXPECT_NE(message(p).find("repetition_penalty"), std::string::npos);
  p = {};
  EXPECT_EQ(message(p), "");
}

}  // namespace
}  // namespace serval
