#include "engine/sampling_params.h"

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace serval {

namespace {
std::string fmt_float(float v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}
}  // namespace

void SamplingParams::validate() const {
  check(std::isfinite(temperature) && temperature >= 0.0f,
        "temperature must be non-negative, got " + fmt_float(temperature));
  check(top_k >= -1, "top_k must be -1 (disable) or at least 1, got " + std::to_string(top_k));
  check(std::isfinite(top_p) && top_p > 0.0f && top_p <= 1.0f, "top_p must be in (0, 1], got " + fmt_float(top_p));
  check(std::isfinite(min_p) && min_p >= 0.0f && min_p <= 1.0f, "min_p must be in [0, 1], got " + fmt_float(min_p));
  check(std::isfinite(repetition_penalty) && repetition_penalty > 0.0f,
        "repetition_penalty must be greater than zero, got " + fmt_float(repetition_penalty));
  check(std::isfinite(presence_penalty) && presence_penalty >= -2.0f && presence_penalty <= 2.0f,
        "presence_penalty must be in [-2, 2], got " + fmt_float(presence_penalty));
  check(std::isfinite(frequency_penalty) && frequency_penalty >= -2.0f && frequency_penalty <= 2.0f,
        "frequency_penalty must be in [-2, 2], got " + fmt_float(frequency_penalty));
  check(max_tokens >= 0, "max_tokens must be at least 0, got " + std::to_string(max_tokens));
  check(min_tokens >= 0, "min_tokens must be at least 0, got " + std::to_string(min_tokens));
  check(min_tokens <= max_tokens, "min_tokens must be less than or equal to max_tokens=" +
                                      std::to_string(max_tokens) + ", got " + std::to_string(min_tokens));
  check(logprobs >= -1, "logprobs must be non-negative, got " + std::to_string(logprobs));
}

}  // namespace serval
