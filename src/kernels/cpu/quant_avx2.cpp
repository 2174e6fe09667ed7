// AVX2 kernels for int8 / int4 weights (compiled with -mavx2 -mfma -mf16c; the fallback for CPUs without
// AVX-512 VNNI): x quantized per group of 32 to int8, then vpmaddubsw + vpmaddwd per 8 columns.
// int8 uses the sign trick (|q| x sign(q)·x, both within ±127) because 255·127·2 would saturate vpmaddubsw.
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

constexpr int64_t kPrefetchBytes = 2048;

inline __m256i broadcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline int32_t hsum8(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline void store8(float* y, __m256 v, const float* bias, int64_t ncols) {
  if (ncols <= 0) return;
  if (bias != nullptr) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
  if (ncols >= 8) {
    _mm256_storeu_ps(y, v);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  std::copy(tmp, tmp + ncols, y);
}

// Rows [i0, i0+M) of y for the 16 columns of block b (two ymm halves h = 0, 1).
template <bool Int4, int M>
void maddubs_tile(const PackedWeights& w, const QuantizedX& xq, float* y, int64_t b, int64_t i0, int64_t ncols) {
  constexpr int64_t kGB = Int4 ? kInt4GroupBytes : kInt8GroupBytes;
  const int64_t groups = xq.groups;
  const uint8_t* blk = static_cast<const uint8_t*>(w.data) + b * groups * kGB;
  const uint16_t* sblk = static_cast<const uint16_t*>(w.scales.get()) + b * groups * 16;
  const __m256i ones = _mm256_set1_epi16(1), nib = _mm256_set1_epi8(0x0f);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[M][2];
  for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* gb = blk + g * kGB;
    for (int64_t l = 0; l < kGB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(gb + kPrefetchBytes + l), _MM_HINT_T0);
    const int8_t* xg[M];
    for (int i = 0; i < M; ++i) xg[i] = xq.q + (i0 + i) * xq.k_pad + g * kQuantGroup;
    __m256i ig[M][2];
    for (int i = 0; i < M; ++i) ig[i][0] = ig[i][1] = _mm256_setzero_si256();
    if constexpr (!Int4) {
      for (int p = 0; p < 8; ++p) {
        __m256i s[2], a[2];
        for (int h = 0; h < 2; ++h) {
          s[h] = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(gb + p * 64 + 32 * h)), flip);
          a[h] = _mm256_abs_epi8(s[h]);
        }
        for (int i = 0; i < M; ++i) {
          const __m256i xb = broadcast_quad(xg[i] + 4 * p);
          for (int h = 0; h < 2; ++h)
            ig[i][h] = _mm256_add_epi32(
                ig[i][h], _mm256_madd_epi16(_mm256_maddubs_epi16(a[h], _mm256_sign_epi8(xb, s[h])), ones));
        }
      }
    } else {
      for (int c = 0; c < 4; ++c) {
        __m256i lo[2], hi[2];
        for (int h = 0; h < 2; ++h) {
          const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(gb + c * 64 + 32 * h));
          lo[h] = _mm256_and_si256(v, nib);
          hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
        }
        for (int i = 0; i < M; ++i) {
          const __m256i x0 = broadcast_quad(xg[i] + 8 * c), x1 = broadcast_quad(xg[i] + 8 * c + 4);
          for (int h = 0; h < 2; ++h) {
            const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo[h], x0), _mm256_maddubs_epi16(hi[h], x1));
            ig[i][h] = _mm256_add_epi32(ig[i][h], _mm256_madd_epi16(s16, ones));
          }
        }
      }
    }
    __m256 ws[2];
    for (int h = 0; h < 2; ++h)
      ws[h] = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(sblk + g * 16 + 8 * h)));
    for (int i = 0; i < M; ++i) {
      const int64_t at = (i0 + i) * groups + g;
      const __m256 xs = _mm256_set1_ps(xq.scale[at]);
      // int8 codes were turned back into signed q above; int4 codes carry the +8 offset.
      const __m256i comp = _mm256_set1_epi32(Int4 ? kInt4CodeOffset * xq.sum[at] : 0);
      for (int h = 0; h < 2; ++h)
        acc[i][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(ig[i][h], comp)), _mm256_mul_ps(ws[h], xs),
                                    acc[i][h]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int h = 0; h < 2; ++h) {
      const int64_t col = b * 16 + h * 8;
      store8(y + (i0 + i) * w.n + col, acc[i][h], w.bias.empty() ? nullptr : w.bias.data() + col, ncols - h * 8);
    }
}

template <bool Int4>
void forward_tiles(const PackedWeights& w, const QuantizedX& xq, int64_t m, float* y, ThreadPool& pool) {
  const int64_t nblocks = w.num_blocks();
  pool.parallel_for_dynamic(nblocks, panel_grain(nblocks, pool), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t ncols = std::min<int64_t>(w.n - b * 16, 16);
      for (int64_t i0 = 0; i0 < m; i0 += 2) {
        if (m - i0 >= 2) maddubs_tile<Int4, 2>(w, xq, y, b, i0, ncols);
        else maddubs_tile<Int4, 1>(w, xq, y, b, i0, ncols);
      }
    }
  });
}

}  // namespace

void quantize_x_avx2(const float* x, int64_t m, int64_t k, const QuantizedX& xq) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    for (int64_t g = 0; g < xq.groups; ++g) {
      const int64_t t0 = g * kQuantGroup;
      const __m256i left = _mm256_set1_epi32(static_cast<int32_t>(std::min<int64_t>(k - t0, kQuantGroup)));
      __m256 v[4];
      __m256 amax8 = _mm256_setzero_ps();
      for (int q = 0; q < 4; ++q) {
        const __m256i mask = _mm256_cmpgt_epi32(left, _mm256_add_epi32(lane, _mm256_set1_epi32(8 * q)));
        v[q] = _mm256_maskload_ps(row + t0 + 8 * q, mask);
        amax8 = _mm256_max_ps(amax8, _mm256_and_ps(v[q], abs_mask));
      }
      const float amax = hmax8(amax8);
      const float inv = amax >= kTinyAmax ? 127.0f / amax : 0.0f;
      xq.scale[i * xq.groups + g] = amax >= kTinyAmax ? amax / 127.0f : 0.0f;
      const __m256 vinv = _mm256_set1_ps(inv);
      __m256i qi[4];
      for (int q = 0; q < 4; ++q) qi[q] = _mm256_cvtps_epi32(_mm256_mul_ps(v[q], vinv));
      const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(xq.q + i * xq.k_pad + t0),
                          _mm256_permutevar8x32_epi32(bytes, order));
      xq.sum[i * xq.groups + g] =
          hsum8(_mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3])));
    }
  }
}

void forward_quant_avx2(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  const QuantizedX xq = quantized_x_scratch(m, w.k_pad);
  if (m >= 4 && m * w.k >= (int64_t{1} << 16)) {
    pool.parallel_for(m, [&](int64_t i0, int64_t i1) {
      QuantizedX part = xq;
      part.q += i0 * xq.k_pad;
      part.scale += i0 * xq.groups;
      part.sum += i0 * xq.groups;
      quantize_x_avx2(x + i0 * w.k, i1 - i0, w.k, part);
    });
  } else {
    quantize_x_avx2(x, m, w.k, xq);
  }
  if (w.layout == PackLayout::Int4Vnni) forward_tiles<true>(w, xq, m, y, pool);
  else forward_tiles<false>(w, xq, m, y, pool);
}

}  // namespace serval::cpu
