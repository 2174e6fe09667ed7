// Row normalizations on CPU, float32 in and out, statistics accumulated in double:
// RMSNorm (Llama, Qwen2, Phi-3; Gemma's (1 + w) form) and LayerNorm with bias (Phi-2).
#pragma once

#include <cstdint>

namespace serval::cpu {

// y = x / sqrt(mean(x^2) + eps) * w. x, y: [m, n] float32 (y may equal x); weight: [n].
// With weight_plus_one the scale is (1 + w) (Gemma).
void rms_norm(const float* x, const float* weight, int64_t m, int64_t n, float eps, float* y,
              bool weight_plus_one = false);

// y = (x - mean(x)) / sqrt(var(x) + eps) * w + b (biased variance, as torch.nn.LayerNorm).
// x, y: [m, n] float32 (y may equal x); weight, bias: [n] (bias may be null).
void layer_norm(const float* x, const float* weight, const float* bias, int64_t m, int64_t n, float eps, float* y);

}  // namespace serval::cpu
