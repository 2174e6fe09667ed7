#include "engine/sampler.h"

#include "engine/engine_request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

namespace serval {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

double log_sum_exp(std::span<const float> x) {
  float mx = kNegInf;
  for (float v : x) mx = std::max(mx, v);
  if (mx == kNegInf) return kNegInf;
  double s = 0.0;
  for (float v : x) s += std::exp(static_cast<double>(v) - mx);
  return mx + std::log(s);
}

int32_t argmax(std::span<const float> x) {
  int32_t best = 0;
  for (size_t i = 1; i < x.size(); ++i)
    if (x[i] > x[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  return best;
}

}  // namespace

float log_softmax_at(std::span<const float> logits, int32_t id) {
  return static_cast<float>(logits[static_cast<size_t>(id)] - log_sum_exp(logits));
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int k) {
  std::vector<TokenLogprob> out;
  if (k <= 0) return out;
  const double lse = log_sum_exp(logits);
  std::vector<int32_t> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t kk = std::min(static_cast<size_t>(k), idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(kk), idx.end(), [&](int32_t a, int32_t b) {
    float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  });
  for (size_t i = 0; i < kk; ++i)
    out.push_back({idx[i], static_cast<float>(logits[static_cast<size_t>(idx[i])] - lse)});
  return out;
}

RequestSampler::RequestSampler(const SamplingParams& params, std::span<const int32_t> prompt_ids)
    : params_(params), prompt_ids_(prompt_ids.begin(), prompt_ids.end()) {
  if (params_.seed) {
    rng_.seed(*params_.seed);
  } else {
    std::random_device rd;
    rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd());
  }
}

SampleResult RequestSampler::sample(std::span<const float> logits, std::span<const int32_t> output_ids) {
  SampleResult result;
  const size_t vocab = logits.size();
  work_.assign(logits.begin(), logits.end());

  // 1. Penalties (vLLM order: repetition over prompt+output, then frequency/presence over output).
  if (params_.repetition_penalty != 1.0f) {
    auto penalize = [&](int32_t id) {
      if (id < 0 || static_cast<size_t>(id) >= vocab) return;
      float& v = work_[static_cast<size_t>(id)];
      float orig = logits[static_cast<size_t>(id)];
      v = orig > 0 ? orig / params_.repetition_penalty : orig * params_.repetition_penalty;
    };
    for (int32_t id : prompt_ids_) penalize(id);
    for (int32_t id : output_ids) penalize(id);
  }
  if (params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t id : output_ids)
      if (id >= 0 && static_cast<size_t>(id) < vocab) counts[id]++;
    for (auto [id, c] : counts)
      work_[static_cast<size_t>(id)] -= params_.frequency_penalty * static_cast<float>(c) + params_.presence_penalty;
  }

  // 2. Pick.
  if (params_.greedy()) {
    result.token_id = argmax(work_);
  } else {
    const float inv_t = 1.0f / params_.temperature;
    float mx = kNegInf;
    for (float& v : work_) {
      v *= inv_t;
      mx = std::max(mx, v);
    }
    // Candidates sorted by transformed logit, best first; truncated by top-k, min-p, top-p.
    order_.resize(vocab);
    std::iota(order_.begin(), order_.end(), 0);
    size_t keep = vocab;
    if (params_.top_k > 0) keep = std::min(keep, static_cast<size_t>(params_.top_k));
    auto cmp = [&](int32_t a, int32_t b) {
      float va = work_[static_cast<size_t>(a)], vb = work_[static_cast<size_t>(b)];
      return va > vb || (va == vb && a < b);
    };
    if (params_.min_p > 0.0f) {
      // prob >= min_p * max_prob  <=>  logit >= max_logit + log(min_p)
      const float floor_logit = mx + std::log(params_.min_p);
      auto mid = std::partition(order_.begin(), order_.end(),
                                [&](int32_t id) { return work_[static_cast<size_t>(id)] >= floor_logit; });
      keep = std::min(keep, static_cast<size_t>(mid - order_.begin()));
    }
    const bool need_full_sort = params_.top_p < 1.0f;
    if (need_full_sort || keep < vocab) {
      std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(keep), order_.end(), cmp);
    }
    std::vector<double> probs(keep);
    double total = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      probs[i] = std::exp(static_cast<double>(work_[static_cast<size_t>(order_[i])]) - mx);
      total += probs[i];
    }
    if (params_.top_p < 1.0f) {
      double cum = 0.0;
      size_t cut = keep;
      for (size_t i = 0; i < keep; ++i) {
        cum += probs[i] / total;
        if (cum >= params_.top_p) {
          cut = i + 1;
          break;
        }
      }
      keep = cut;
      total = std::accumulate(probs.begin(), probs.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
    }
    std::uniform_real_distribution<double> uni(0.0, total);
    double r = uni(rng_);
    size_t pick = keep - 1;
    for (size_t i = 0; i < keep; ++i) {
      r -= probs[i];
      if (r < 0.0) {
        pick = i;
        break;
      }
    }
    result.token_id = order_[pick];
  }

  // 3. Logprobs of the raw logits (before any transform), as vLLM returns by default.
  if (params_.logprobs >= 0) {
    result.logprob = log_softmax_at(logits, result.token_id);
    result.top_logprobs = top_logprobs(logits, params_.logprobs);
  }
  return result;
}

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Abort: return "abort";
    case FinishReason::Error: return "error";
    case FinishReason::None: return nullptr;
  }
  return nullptr;
}

}  // namespace serval
