// Gamma / Poisson / constant arrival offsets (see arrival_schedule.h).
#include "bench/arrival_schedule.h"

#include <cmath>
#include <random>

namespace serval::bench {

std::vector<double> arrival_offsets(int n, double rate, double burstiness, uint64_t seed) {
  std::vector<double> out(n > 0 ? n : 0, 0.0);
  if (n <= 1 || std::isinf(rate)) return out;
  if (std::isinf(burstiness)) {
    for (int i = 0; i < n; ++i) out[i] = i / rate;
    return out;
  }
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::gamma_distribution<double> gap(burstiness, 1.0 / (rate * burstiness));
  for (int i = 1; i < n; ++i) out[i] = out[i - 1] + gap(rng);
  const double target = (n - 1) / rate;
  if (out[n - 1] > 0) {
    const double scale = target / out[n - 1];
    for (double& t : out) t *= scale;
  }
  return out;
}

}  // namespace serval::bench
