// RMSNorm and LayerNorm: the sums are accumulated in double so long rows lose no precision.
#include "kernels/cpu/rmsnorm.h"

#include <cmath>

namespace serval::cpu {

void rms_norm(const float* x, const float* weight, int64_t m, int64_t n, float eps, float* y,
              bool weight_plus_one) {
  const float offset = weight_plus_one ? 1.0f : 0.0f;
  for (int64_t r = 0; r < m; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
    for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * scale) * (weight[i] + offset);
  }
}

void layer_norm(const float* x, const float* weight, const float* bias, int64_t m, int64_t n, float eps, float* y) {
  for (int64_t r = 0; r < m; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(n);
    double var = 0.0;
    for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      const float norm = static_cast<float>((xr[i] - mean) * inv);
      yr[i] = norm * weight[i] + (bias ? bias[i] : 0.0f);
    }
  }
}

}  // namespace serval::cpu
