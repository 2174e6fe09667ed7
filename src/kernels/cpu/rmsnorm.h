// RMSNorm on CPU: y = x / sqrt(mean(x^2) + eps) * w, row by row, float32.
#pragma once

#include <cstdint>

namespace serval::cpu {

// x, y: [m, n] float32 (y may equal x); weight: [n]. With weight_plus_one the scale is (1 + w) (Gemma).
void rms_norm(const float* x, const float* weight, int64_t m, int64_t n, float eps, float* y,
              bool weight_plus_one = false);

}  // namespace serval::cpu
