// Linear: y = x · Wᵀ (+ bias) on CPU, the op that dominates every forward pass.
// Weights are packed once at load time into the layout the active ISA path wants
// (AMX / AVX512-BF16 / AVX2 / scalar, see core/cpu_features.h); activations are float32.
#pragma once

#include <cstdint>
#include <memory>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"

namespace serval::cpu {

// A weight matrix as stored in the checkpoint: row-major [out_features, in_features].
struct WeightView {
  DType dtype = DType::F32;
  int64_t out_features = 0;
  int64_t in_features = 0;
  const void* data = nullptr;  // not owned; must outlive Linear::create (Linear may keep pointing at it)
};

// How a Linear stores its weights.
enum class LinearFormat : uint8_t {
  // The checkpoint dtype (BF16 / F16 / F32), repacked but not requantized.
  Native,
  // Weight-only int8 (like llama.cpp's Q8_0): per output row, groups of 32 along K share one f16 scale
  // (max|w| / 127), q = round(w / scale) in [-127, 127]. 1.0625 bytes per weight (0.53x of BF16).
  Int8,
  // Weight-only 4-bit (like Q4_0): groups of 32 along K, symmetric, one f16 scale per group equal to
  // w_max / -8 (w_max: the weight of largest magnitude, which becomes q = -8), q = round(w / scale)
  // clamped to [-8, 7]. 0.5625 bytes per weight (0.28x of BF16).
  // Both quantized formats quantize x per row and group of 32 to int8 (scale max|x| / 127) and multiply
  // in integers (AVX512-VNNI / AVX2), except prefill (m >= 16) on the amx path, which dequantizes weights to
  // bf16 in L1 and runs AMX-BF16 with x rounded to bf16. See kernels/cpu/quant.h.
  Int4,
};

class Linear {
 public:
  Linear();
  ~Linear();
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;

  // Packs w (and copies bias, [out_features] float32, may be null) for the active ISA.
  // The packed form may alias w.data when no repacking is needed, so w.data must outlive the Linear.
  // Throws serval::Error on a null pointer, a non-positive shape or an unsupported dtype.
  static Linear create(const WeightView& w, const float* bias);
  // Same, for a given kernel path instead of active_isa() (tests and benchmarks force every path the CPU
  // has). Throws serval::Error if this CPU lacks `isa`.
  static Linear create(const WeightView& w, const float* bias, Isa isa);
  // Same, storing the weights in `format` (quantized at load when it is not Native).
  static Linear create(const WeightView& w, const float* bias, LinearFormat format);
  static Linear create(const WeightView& w, const float* bias, Isa isa, LinearFormat format);

  // x is [m, in_features] float32 (row-major, contiguous), y is [m, out_features] float32; they must not
  // overlap. Precision: f32 accumulation; BF16 weights with m >= 5 on the amx/avx512 paths round x to bf16
  // (relative error <= 2^-8 of sum |x*w|), every other Native case keeps x in f32; Int8/Int4: see above. Concurrent calls on one Linear are
  // safe if they use different pools (a ThreadPool runs one job at a time).
  void forward(const float* x, int64_t m, float* y, ThreadPool& pool) const;
  void forward(const float* x, int64_t m, float* y) const { forward(x, m, y, global_thread_pool()); }

  int64_t in_features() const;
  int64_t out_features() const;
  DType weight_dtype() const;   // the checkpoint dtype (also for the quantized formats)
  size_t weight_bytes() const;  // bytes of weights read per forward (for GB/s reporting)
  Isa isa() const;              // the kernel path the weights were packed for
  LinearFormat format() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace serval::cpu
