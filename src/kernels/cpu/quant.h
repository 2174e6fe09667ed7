// Weight-only int8 / int4 Linear formats (LinearFormat::Int8 / Int4): load-time quantization of W, the
// per-call quantization of x to int8, and the per-ISA kernel entry points (quant.cpp holds the scalar
// reference; quant_avx512.cpp the VNNI GEMV/GEMM and the AMX dequantizer; quant_avx2.cpp maddubs).
// Internal to kernels/cpu.
//
// Arithmetic, shared by every path except AMX prefill:
//   W[n][t] ~= q[n][t] * ws[n][g]   (g = t / 32; int8: q in [-127, 127], int4: q in [-8, 7]; ws is f16)
//   x[i][t] ~= xq[i][t] * xs[i][g]  (xq in [-127, 127], xs = max|x in group| / 127, f32)
//   y[i][n]  = sum_g ws[n][g] * xs[i][g] * (sum_{t in g} q * xq)  (+ bias), the inner sum exact in int32.
// The AMX path (m >= 16 rows) instead dequantizes W to bf16 tiles in L1 and multiplies with bf16 x.
#pragma once

#include <cstdint>

#include "kernels/cpu/linear.h"
#include "kernels/cpu/linear_packed.h"

namespace serval::cpu {

inline constexpr int64_t kQuantGroup = 32;
// Bytes of codes per 16-row block and group of 32 K.
inline constexpr int64_t kInt8GroupBytes = 512;
inline constexpr int64_t kInt4GroupBytes = 256;
// The offset that makes codes unsigned (vpdpbusd / maddubs take unsigned x signed bytes).
inline constexpr int32_t kInt8CodeOffset = 128;
inline constexpr int32_t kInt4CodeOffset = 8;
// Groups of x whose max |x| is below this are quantized to zero (127 / max|x| would overflow).
inline constexpr float kTinyAmax = 1e-30f;

// x [m, k] quantized per row and group of 32 K. All arrays are caller-owned scratch.
struct QuantizedX {
  int8_t* q = nullptr;      // [m][k_pad], zero past k
  float* scale = nullptr;   // [m][groups]
  int32_t* sum = nullptr;   // [m][groups]: sum of q in the group (for the unsigned-code offset)
  int64_t k_pad = 0, groups = 0;
};

// Packs w (any dtype) into p (layout Int8Vnni or Int4Vnni already set, n_pad / k_pad set).
void pack_quantized(const WeightView& w, PackedWeights& p, ThreadPool& pool);
size_t quantized_weight_bytes(const PackedWeights& p);

// Quantizes rows [0, m) of x (row stride k) into xq (row stride xq.k_pad). Every variant gives identical
// results: scale = amax / 127, inv = 127 / amax (0 if amax < kTinyAmax), q = round-to-nearest-even(x * inv).
void quantize_x_scalar(const float* x, int64_t m, int64_t k, const QuantizedX& xq);
void quantize_x_avx512(const float* x, int64_t m, int64_t k, const QuantizedX& xq);
void quantize_x_avx2(const float* x, int64_t m, int64_t k, const QuantizedX& xq);

// Thread-local scratch for x quantized in `slot` (see scratch_buffer), sized for m rows of k_pad.
QuantizedX quantized_x_scratch(int64_t m, int64_t k_pad);

// Forward entry points for quantized layouts: x [m, k] f32, y [m, n] f32.
void forward_quant_scalar(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool);
void forward_quant_avx512(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool);
void forward_quant_avx2(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool);

// AMX prefill helper: writes 16-row block b's groups [g0, g1) as bf16 in the Vnni16 B-tile layout
// (dst[(g - g0) * 16 + pair][16][2], 1 KiB per group), each weight q * ws rounded to nearest bf16.
void dequantize_bf16_avx512(const PackedWeights& w, int64_t b, int64_t g0, int64_t g1, uint16_t* dst);

}  // namespace serval::cpu
