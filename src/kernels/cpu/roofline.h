// The machine's bounds that `serval bench model` compares against: memory read bandwidth (measured by a
// multi-threaded streaming read of a buffer larger than the last-level cache) and the peak FLOP/s of the
// matrix instruction a Linear path uses for prefill (measured by a register-only loop of that instruction).
#pragma once

#include <string>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/cpu/linear.h"

namespace serval::cpu {

struct BandwidthProbe {
  double gbps = 0;     // best pass, bytes read / second / 1e9
  size_t bytes = 0;    // buffer size read per pass
  int passes = 0;
};

// Reads a buffer of max(1 GiB, 2 x L3) with every thread of `pool` (each its contiguous slice, 64-byte
// loads summed into 8 accumulators), `passes` times; keeps the best pass. Throws serval::Error if the
// buffer cannot be allocated.
BandwidthProbe measure_read_bandwidth(ThreadPool& pool, int passes = 5);

struct PeakProbe {
  std::string instruction;  // e.g. "amx-bf16 tdpbf16ps", "avx512 vdpbf16ps", "avx2 vfmadd231ps"
  double flops_per_instruction = 0;
  double gflops = 0;  // threads x instructions per second x flops_per_instruction / 1e9 (best of 3 runs)
};

// The instruction the prefill GEMM of (isa, weight dtype, format) issues, timed in a loop with
// independent accumulators on every thread of `pool` for ~30 ms. Scalar reports gflops = 0.
PeakProbe measure_peak_flops(Isa isa, DType dtype, LinearFormat format, ThreadPool& pool);

}  // namespace serval::cpu
