// Arrival schedules: absolute send offsets (seconds from the run's start) for open-loop load.
#pragma once

#include <cstdint>
#include <vector>

namespace serval::bench {

// Offsets for n requests at `rate` req/s. rate = inf: all at 0. burstiness = inf: constant spacing
// i/rate. Otherwise inter-arrival gaps are gamma(shape=burstiness, scale=1/(rate*burstiness))
// (burstiness 1 = Poisson), the first request at 0, and — as vLLM does — the cumulative offsets are
// rescaled so the last one lands at exactly (n-1)/rate, making the achieved mean rate independent of the seed.
// Sorted, deterministic for a seed.
std::vector<double> arrival_offsets(int n, double rate, double burstiness, uint64_t seed);

}  // namespace serval::bench
