// RoPE frequencies (with scaling) and the rotate-half rotation.
#include "kernels/cpu/rope.h"

#include <cmath>
#include <numbers>

namespace serval::cpu {

std::vector<double> rope_inv_freq(const RopeParams& p) {
  const int half = p.rotary_dim / 2;
  double base = p.theta;
  if (p.scaling == RopeScaling::Dynamic) {
    // vLLM's DynamicNTKScalingRotaryEmbedding: the base is stretched once for max_position * factor.
    const double max_len = p.original_max_position * p.factor;
    base = p.theta * std::pow(p.factor * max_len / p.original_max_position - (p.factor - 1.0),
                              static_cast<double>(p.rotary_dim) / (p.rotary_dim - 2));
  }
  std::vector<double> inv(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) inv[static_cast<size_t>(i)] = 1.0 / std::pow(base, 2.0 * i / p.rotary_dim);
  if (p.scaling == RopeScaling::LongRope) {
    // transformers' _compute_longrope_parameters: inv_freq = 1 / (ext_factor * base^(2i/d)).
    for (size_t i = 0; i < inv.size() && i < p.ext_factors.size(); ++i) inv[i] /= p.ext_factors[i];
  } else if (p.scaling == RopeScaling::Linear) {
    for (double& f : inv) f /= p.factor;
  } else if (p.scaling == RopeScaling::Llama3) {
    // transformers' _compute_llama3_parameters: long wavelengths are divided by factor, short ones kept,
    // the band between is interpolated smoothly.
    const double old_ctx = p.original_max_position;
    const double low_wavelen = old_ctx / p.low_freq_factor;
    const double high_wavelen = old_ctx / p.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        f /= p.factor;
        continue;
      }
      const double smooth = (old_ctx / wavelen - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor);
      f = (1.0 - smooth) * f / p.factor + smooth * f;
    }
  }
  return inv;
}

void rope_cos_sin(const std::vector<double>& inv_freq, const int32_t* positions, int64_t n, float* cos_out,
                  float* sin_out, double scale) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(positions[t]) * inv_freq[static_cast<size_t>(i)];
      cos_out[t * half + i] = static_cast<float>(std::cos(angle) * scale);
      sin_out[t * half + i] = static_cast<float>(std::sin(angle) * scale);
    }
  }
}

void apply_rope(float* x, int64_t num_tokens, int num_heads, int head_dim, int rotary_dim, const float* cos,
                const float* sin) {
  const int half = rotary_dim / 2;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* c = cos + t * half;
    const float* s = sin + t * half;
    for (int h = 0; h < num_heads; ++h) {
      float* v = x + (t * num_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

}  // namespace serval::cpu
