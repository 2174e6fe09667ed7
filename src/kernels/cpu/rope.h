// Rotary position embeddings on CPU, rotate-half (GPT-NeoX / Hugging Face) style, with the frequency
// scalings HF and vLLM support: linear, dynamic NTK (vLLM's fixed form), llama3 and longrope (Phi-3).
#pragma once

#include <cstdint>
#include <vector>

namespace serval::cpu {

enum class RopeScaling { None, Linear, Dynamic, Llama3, LongRope };

struct RopeParams {
  int rotary_dim = 0;           // dims rotated per head (even, <= head_dim)
  double theta = 10000.0;       // base
  RopeScaling scaling = RopeScaling::None;
  double factor = 1.0;          // linear/dynamic/llama3 factor
  double low_freq_factor = 1.0;     // llama3
  double high_freq_factor = 4.0;    // llama3
  int original_max_position = 0;    // llama3: original context; dynamic: max_position_embeddings
  std::vector<double> ext_factors;  // longrope: [rotary_dim / 2] per-frequency divisors (short or long list)
};

// [rotary_dim / 2] inverse frequencies (radians per position), after scaling.
std::vector<double> rope_inv_freq(const RopeParams& p);

// cos/sin tables for n positions: [n, rotary_dim / 2] float32 each, angles computed in double, both
// multiplied by `scale` (longrope's attention factor; 1 otherwise).
void rope_cos_sin(const std::vector<double>& inv_freq, const int32_t* positions, int64_t n, float* cos_out,
                  float* sin_out, double scale = 1.0);

// In place on x [num_tokens, num_heads, head_dim]: rotates the first rotary_dim dims of every head,
// pairing dim i with dim i + rotary_dim/2 (rotate-half). cos/sin: [num_tokens, rotary_dim / 2].
void apply_rope(float* x, int64_t num_tokens, int num_heads, int head_dim, int rotary_dim, const float* cos,
                const float* sin);

}  // namespace serval::cpu
