// Weight-only int8 / int4: load-time quantization of W into the Int8Vnni / Int4Vnni layouts, the scalar
// quantization of x, and the scalar reference kernel (SERVAL_ISA=scalar; the other paths are tested
// against the same arithmetic).
#include "kernels/cpu/quant.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"

namespace serval::cpu {

namespace {

int64_t round_up64(int64_t v) { return (v + 63) / 64 * 64; }

// Byte offset of weight (row r of the block, K offset tt within the group) inside a group's codes.
inline int64_t code_offset_int8(int64_t r, int64_t tt) { return (tt / 4) * 64 + r * 4 + (tt % 4); }
// Int4: quad p = tt / 4 lives in 64-byte chunk p / 2, low nibble for even p, high nibble for odd p.
inline int64_t code_offset_int4(int64_t r, int64_t tt) { return (tt / 8) * 64 + r * 4 + (tt % 4); }

}  // namespace

void pack_quantized(const WeightView& w, PackedWeights& p, ThreadPool& pool) {
  const bool int4 = p.layout == PackLayout::Int4Vnni;
  const int64_t k = w.in_features, n = w.out_features, groups = p.k_pad / kQuantGroup;
  const int64_t group_bytes = int4 ? kInt4GroupBytes : kInt8GroupBytes;
  const int32_t offset = int4 ? kInt4CodeOffset : kInt8CodeOffset;
  p.storage = aligned_zeroed(static_cast<size_t>(p.num_blocks() * groups * group_bytes));
  p.scales = aligned_zeroed(static_cast<size_t>(p.n_pad * groups) * 2);
  auto* codes = static_cast<uint8_t*>(p.storage.get());
  auto* sc = static_cast<uint16_t*>(p.scales.get());
  // Zero weights are code `offset`: fill every code (padding included) with it first.
  const uint8_t zero_code = int4 ? static_cast<uint8_t>(kInt4CodeOffset | (kInt4CodeOffset << 4)) : 0x80;
  std::fill(codes, codes + p.num_blocks() * groups * group_bytes, zero_code);
  const size_t es = dtype_size(w.dtype);
  std::atomic<bool> overflow{false};
  pool.parallel_for(p.num_blocks(), [&](int64_t b0, int64_t b1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t rows = std::min<int64_t>(kBlockN, n - b * kBlockN);
      for (int64_t r = 0; r < rows; ++r) {
        convert_to_f32(w.dtype, static_cast<const uint8_t*>(w.data) + static_cast<size_t>((b * kBlockN + r) * k) * es,
                       row.data(), static_cast<size_t>(k));
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t t0 = g * kQuantGroup, t1 = std::min(k, t0 + kQuantGroup);
          // int8: scale = max|w| / 127 (q in [-127, 127]); int4: scale = w_max / -8 where w_max is the
          // weight of largest magnitude, so it maps to q = -8 exactly and all 16 codes are used.
          float extreme = 0.0f;
          for (int64_t t = t0; t < t1; ++t) {
            const float v = row[static_cast<size_t>(t)];
            if (std::fabs(v) > std::fabs(extreme)) extreme = v;
          }
          const float wanted = int4 ? extreme / -8.0f : std::fabs(extreme) / 127.0f;
          const uint16_t h = f32_to_f16(wanted);
          const float scale = f16_to_f32(h);
          if (!std::isfinite(scale)) overflow.store(true);
          sc[(b * groups + g) * kBlockN + r] = h;
          uint8_t* dst = codes + (b * groups + g) * group_bytes;
          const float lo = int4 ? -8.0f : -127.0f, hi = int4 ? 7.0f : 127.0f;
          for (int64_t t = t0; t < t1; ++t) {
            const float v = scale != 0.0f ? std::nearbyint(row[static_cast<size_t>(t)] / scale) : 0.0f;
            const auto code = static_cast<uint8_t>(static_cast<int32_t>(std::clamp(v, lo, hi)) + offset);
            if (int4) {
              uint8_t& byte = dst[code_offset_int4(r, t - t0)];
              const int shift = ((t - t0) / 4) % 2 == 0 ? 0 : 4;
              byte = static_cast<uint8_t>((byte & ~(0x0f << shift)) | (code << shift));
            } else {
              dst[code_offset_int8(r, t - t0)] = code;
            }
          }
        }
      }
    }
  });
  if (overflow.load()) throw Error("Linear: a weight of magnitude > 8e6 does not fit the f16 group scale of int8/int4");
}

size_t quantized_weight_bytes(const PackedWeights& p) {
  const int64_t groups = p.k_pad / kQuantGroup;
  const int64_t group_bytes = p.layout == PackLayout::Int4Vnni ? kInt4GroupBytes : kInt8GroupBytes;
  return static_cast<size_t>(p.num_blocks() * groups * group_bytes + p.n_pad * groups * 2);
}

void quantize_x_scalar(const float* x, int64_t m, int64_t k, const QuantizedX& xq) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t g = 0; g < xq.groups; ++g) {
      const int64_t t0 = g * kQuantGroup, t1 = std::min(k, t0 + kQuantGroup);
      float amax = 0.0f;
      for (int64_t t = t0; t < t1; ++t) amax = std::max(amax, std::fabs(x[i * k + t]));
      const float inv = amax >= kTinyAmax ? 127.0f / amax : 0.0f;
      xq.scale[i * xq.groups + g] = amax >= kTinyAmax ? amax / 127.0f : 0.0f;
      int32_t sum = 0;
      int8_t* dst = xq.q + i * xq.k_pad + t0;
      for (int64_t t = t0; t < t0 + kQuantGroup; ++t) {
        const int32_t v = t < t1 ? static_cast<int32_t>(std::nearbyint(x[i * k + t] * inv)) : 0;
        dst[t - t0] = static_cast<int8_t>(v);
        sum += v;
      }
      xq.sum[i * xq.groups + g] = sum;
    }
  }
}

QuantizedX quantized_x_scratch(int64_t m, int64_t k_pad) {
  QuantizedX xq;
  xq.k_pad = k_pad;
  xq.groups = k_pad / kQuantGroup;
  const int64_t q_bytes = round_up64(m * k_pad), s_bytes = round_up64(m * xq.groups * 4);
  auto* base = static_cast<uint8_t*>(scratch_buffer(0, static_cast<size_t>(q_bytes + 2 * s_bytes)));
  xq.q = reinterpret_cast<int8_t*>(base);
  xq.scale = reinterpret_cast<float*>(base + q_bytes);
  xq.sum = reinterpret_cast<int32_t*>(base + q_bytes + s_bytes);
  return xq;
}

void forward_quant_scalar(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  const bool int4 = w.layout == PackLayout::Int4Vnni;
  const int64_t groups = w.k_pad / kQuantGroup;
  const int64_t group_bytes = int4 ? kInt4GroupBytes : kInt8GroupBytes;
  const int32_t offset = int4 ? kInt4CodeOffset : kInt8CodeOffset;
  const QuantizedX xq = quantized_x_scratch(m, w.k_pad);
  quantize_x_scalar(x, m, w.k, xq);
  const auto* codes = static_cast<const uint8_t*>(w.data);
  const auto* sc = static_cast<const uint16_t*>(w.scales.get());
  pool.parallel_for(w.n, [&](int64_t n0, int64_t n1) {
    for (int64_t j = n0; j < n1; ++j) {
      const int64_t b = j / kBlockN, r = j % kBlockN;
      for (int64_t i = 0; i < m; ++i) {
        float acc = 0.0f;
        for (int64_t g = 0; g < groups; ++g) {
          const uint8_t* blk = codes + (b * groups + g) * group_bytes;
          const int8_t* xg = xq.q + i * xq.k_pad + g * kQuantGroup;
          int32_t dot = 0;
          for (int64_t tt = 0; tt < kQuantGroup; ++tt) {
            int32_t code;
            if (int4) {
              const uint8_t byte = blk[code_offset_int4(r, tt)];
              code = (tt / 4) % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
            } else {
              code = blk[code_offset_int8(r, tt)];
            }
            dot += (code - offset) * xg[tt];
          }
          const float ws = f16_to_f32(sc[(b * groups + g) * kBlockN + r]);
          acc = std::fma(static_cast<float>(dot), ws * xq.scale[i * groups + g], acc);
        }
        y[i * w.n + j] = acc + (w.bias.empty() ? 0.0f : w.bias[static_cast<size_t>(j)]);
      }
    }
  });
}

}  // namespace serval::cpu
