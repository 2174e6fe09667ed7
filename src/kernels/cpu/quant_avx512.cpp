// AVX-512 kernels for int8 / int4 weights (compiled with -mavx512f/bw/vl/vnni/bf16; run only when
// cpu_features() says so): x quantized per group of 32 to int8, then vpdpbusd (unsigned weight codes x
// signed x bytes) over [m rows] x [16-column blocks] register tiles, one f32 FMA per group for the scales.
// Also the bf16 dequantizer that feeds AMX prefill (linear_amx.cpp).
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
// NOTE: GCC 12 reports -Wmaybe-uninitialized inside its own intrinsics (the _mm*_undefined_* pass-through
// operand) once they are inlined into unrolled templates.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstring>

#include "kernels/cpu/quant.h"

namespace serval::cpu {

namespace {

// Bytes ahead of the current group that each weight stream prefetches.
constexpr int64_t kPrefetchBytes = 2048;
constexpr int64_t kPrefetchStride = 64;  // one prefetch per cache line

inline __mmask16 lane_mask(int64_t count) {
  if (count >= 16) return static_cast<__mmask16>(0xffff);
  return count > 0 ? static_cast<__mmask16>((1u << count) - 1) : static_cast<__mmask16>(0);
}

inline __m512i broadcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Rows [i0, i0+M) of y for NB consecutive 16-column blocks starting at block b.
struct Tile {
  int64_t b;
  int64_t i0;
  int64_t ncols;  // valid columns from b*16 on
};

template <bool Int4, int M, int NB>
void vnni_tile(const PackedWeights& w, const QuantizedX& xq, float* y, const Tile& t) {
  constexpr int64_t kGB = Int4 ? kInt4GroupBytes : kInt8GroupBytes;
  constexpr int32_t kOff = Int4 ? kInt4CodeOffset : kInt8CodeOffset;
  const int64_t groups = xq.groups;
  const uint8_t* blk[NB];
  const uint16_t* sblk[NB];
  for (int j = 0; j < NB; ++j) {
    blk[j] = static_cast<const uint8_t*>(w.data) + (t.b + j) * groups * kGB;
    sblk[j] = static_cast<const uint16_t*>(w.scales.get()) + (t.b + j) * groups * 16;
  }
  const __m512i nib = _mm512_set1_epi8(0x0f);
  __m512 acc[M][NB];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i ig[M][NB];
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < NB; ++j) ig[i][j] = _mm512_setzero_si512();
    const int8_t* xg[M];
    for (int i = 0; i < M; ++i) xg[i] = xq.q + (t.i0 + i) * xq.k_pad + g * kQuantGroup;
    for (int j = 0; j < NB; ++j)
      for (int64_t l = 0; l < kGB; l += kPrefetchStride)
        _mm_prefetch(reinterpret_cast<const char*>(blk[j] + g * kGB + kPrefetchBytes + l), _MM_HINT_T0);
    if constexpr (!Int4) {
      for (int p = 0; p < 8; ++p) {
        __m512i wv[NB];
        for (int j = 0; j < NB; ++j) wv[j] = _mm512_load_si512(blk[j] + g * kGB + p * 64);
        for (int i = 0; i < M; ++i) {
          const __m512i xb = broadcast_quad(xg[i] + 4 * p);
          for (int j = 0; j < NB; ++j) ig[i][j] = _mm512_dpbusd_epi32(ig[i][j], wv[j], xb);
        }
      }
    } else {
      for (int c = 0; c < 4; ++c) {
        __m512i lo[NB], hi[NB];
        for (int j = 0; j < NB; ++j) {
          const __m512i v = _mm512_load_si512(blk[j] + g * kGB + c * 64);
          lo[j] = _mm512_and_si512(v, nib);
          hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
        }
        for (int i = 0; i < M; ++i) {
          const __m512i x0 = broadcast_quad(xg[i] + 8 * c), x1 = broadcast_quad(xg[i] + 8 * c + 4);
          for (int j = 0; j < NB; ++j) {
            ig[i][j] = _mm512_dpbusd_epi32(ig[i][j], lo[j], x0);
            ig[i][j] = _mm512_dpbusd_epi32(ig[i][j], hi[j], x1);
          }
        }
      }
    }
    __m512 ws[NB];
    for (int j = 0; j < NB; ++j)
      ws[j] = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sblk[j] + g * 16)));
    for (int i = 0; i < M; ++i) {
      const int64_t at = (t.i0 + i) * groups + g;
      const __m512 xs = _mm512_set1_ps(xq.scale[at]);
      const __m512i comp = _mm512_set1_epi32(kOff * xq.sum[at]);
      for (int j = 0; j < NB; ++j)
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(ig[i][j], comp)), _mm512_mul_ps(ws[j], xs),
                                    acc[i][j]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) {
      const int64_t col = (t.b + j) * 16;
      __m512 v = acc[i][j];
      if (!w.bias.empty()) v = _mm512_add_ps(v, _mm512_loadu_ps(w.bias.data() + col));
      _mm512_mask_storeu_ps(y + (t.i0 + i) * w.n + col, lane_mask(t.ncols - j * 16), v);
    }
}

template <bool Int4, int M>
void run_tile_m(const PackedWeights& w, const QuantizedX& xq, float* y, const Tile& t, int nb) {
  switch (nb) {
    case 1: vnni_tile<Int4, M, 1>(w, xq, y, t); return;
    case 2: vnni_tile<Int4, M, 2>(w, xq, y, t); return;
    case 3: if constexpr (M <= 4) vnni_tile<Int4, M, 3>(w, xq, y, t); return;
    default: if constexpr (M <= 3) vnni_tile<Int4, M, 4>(w, xq, y, t); return;
  }
}

template <bool Int4>
void run_tile(const PackedWeights& w, const QuantizedX& xq, float* y, const Tile& t, int rows, int nb) {
  switch (rows) {
    case 1: run_tile_m<Int4, 1>(w, xq, y, t, nb); return;
    case 2: run_tile_m<Int4, 2>(w, xq, y, t, nb); return;
    case 3: run_tile_m<Int4, 3>(w, xq, y, t, nb); return;
    default: run_tile_m<Int4, 4>(w, xq, y, t, nb); return;
  }
}

template <bool Int4>
void forward_tiles(const PackedWeights& w, const QuantizedX& xq, int64_t m, float* y, ThreadPool& pool) {
  // Decode rows (m <= 3): up to 4 column blocks per pass (4 independent weight streams); more rows:
  // 4 rows x 3 blocks for int8, 3-4 x 2 for int4 (its nibble unpacking needs two more registers per block).
  // Each (row, block) holds an int32 group sum and an f32 total: at most 24 of the 32 zmm registers.
  const int rows = static_cast<int>(std::min<int64_t>(m, 4));
  const int blocks = m <= 2 ? 4 : Int4 ? 2 : m == 3 ? 4 : 3;
  const int64_t nblocks = w.num_blocks();
  const int64_t npanels = (nblocks + blocks - 1) / blocks;
  pool.parallel_for_dynamic(npanels, panel_grain(npanels, pool), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p * blocks;
      const int nb = static_cast<int>(std::min<int64_t>(blocks, nblocks - b));
      const int64_t ncols = std::min<int64_t>(w.n - b * 16, nb * 16);
      for (int64_t i0 = 0; i0 < m; i0 += rows)
        run_tile<Int4>(w, xq, y, Tile{b, i0, ncols}, static_cast<int>(std::min<int64_t>(rows, m - i0)), nb);
    }
  });
}

}  // namespace

void quantize_x_avx512(const float* x, int64_t m, int64_t k, const QuantizedX& xq) {
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    for (int64_t g = 0; g < xq.groups; ++g) {
      const int64_t t0 = g * kQuantGroup, left = k - t0;
      const __m512 a = _mm512_maskz_loadu_ps(lane_mask(left), row + t0);
      const __m512 b = _mm512_maskz_loadu_ps(lane_mask(left - 16), row + t0 + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
      const float inv = amax >= kTinyAmax ? 127.0f / amax : 0.0f;
      xq.scale[i * xq.groups + g] = amax >= kTinyAmax ? amax / 127.0f : 0.0f;
      const __m512 vinv = _mm512_set1_ps(inv);
      const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vinv));
      const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, vinv));
      int8_t* dst = xq.q + i * xq.k_pad + t0;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(qa));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), _mm512_cvtepi32_epi8(qb));
      xq.sum[i * xq.groups + g] = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
    }
  }
}

void forward_quant_avx512(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  const QuantizedX xq = quantized_x_scratch(m, w.k_pad);
  if (m >= 4 && m * w.k >= (int64_t{1} << 16)) {  // large enough that splitting pays for a dispatch
    pool.parallel_for(m, [&](int64_t i0, int64_t i1) {
      QuantizedX part = xq;
      part.q += i0 * xq.k_pad;
      part.scale += i0 * xq.groups;
      part.sum += i0 * xq.groups;
      quantize_x_avx512(x + i0 * w.k, i1 - i0, w.k, part);
    });
  } else {
    quantize_x_avx512(x, m, w.k, xq);
  }
  if (w.layout == PackLayout::Int4Vnni) forward_tiles<true>(w, xq, m, y, pool);
  else forward_tiles<false>(w, xq, m, y, pool);
}

void dequantize_bf16_avx512(const PackedWeights& w, int64_t b, int64_t g0, int64_t g1, uint16_t* dst) {
  const bool int4 = w.layout == PackLayout::Int4Vnni;
  const int64_t groups = w.k_pad / kQuantGroup;
  const int64_t gbytes = int4 ? kInt4GroupBytes : kInt8GroupBytes;
  const float off = static_cast<float>(int4 ? kInt4CodeOffset : kInt8CodeOffset);
  // cvtne2ps gives [16 even-K bf16 | 16 odd-K bf16]; the Vnni16 tile row wants them interleaved by column.
  alignas(64) static constexpr uint16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,
                                                           21, 6, 22, 7, 23, 8, 24, 9, 25, 10, 26,
                                                           11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i perm = _mm512_load_si512(kInterleave);
  const __m512i nib = _mm512_set1_epi8(0x0f), byte = _mm512_set1_epi32(0xff);
  const auto* codes = static_cast<const uint8_t*>(w.data) + b * groups * gbytes;
  const auto* sc = static_cast<const uint16_t*>(w.scales.get()) + b * groups * 16;
  for (int64_t g = g0; g < g1; ++g) {
    const __m512 ws = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sc + g * 16)));
    const __m512 offs = _mm512_mul_ps(ws, _mm512_set1_ps(off));  // code * ws - off * ws == q * ws exactly
    uint16_t* out = dst + (g - g0) * 16 * 32;
    for (int p = 0; p < 8; ++p) {
      __m512i u;
      if (int4) {
        const __m512i v = _mm512_load_si512(codes + g * gbytes + (p / 2) * 64);
        u = p % 2 == 0 ? _mm512_and_si512(v, nib) : _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
      } else {
        u = _mm512_load_si512(codes + g * gbytes + p * 64);
      }
      __m512 f[4];
      for (int kk = 0; kk < 4; ++kk) {
        const __m512i e = _mm512_and_si512(_mm512_srli_epi32(u, 8 * kk), byte);
        f[kk] = _mm512_fmsub_ps(_mm512_cvtepi32_ps(e), ws, offs);
      }
      const __m512i r0 = _mm512_permutexvar_epi16(perm, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(f[1], f[0])));
      const __m512i r1 = _mm512_permutexvar_epi16(perm, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(f[3], f[2])));
      _mm512_store_si512(out + (2 * p) * 32, r0);
      _mm512_store_si512(out + (2 * p + 1) * 32, r1);
    }
  }
}

}  // namespace serval::cpu
