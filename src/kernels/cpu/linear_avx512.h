// Helpers shared by the AVX-512 and AMX Linear kernels; callable only on CPUs with AVX512-BF16.
#pragma once

#include <cstdint>

namespace serval::cpu {

// xb[i][t] = bf16(x[i][t]) (round to nearest even) for i < m, t < k; zero for k <= t < k_pad and for
// rows m <= i < m_pad. x is [m, k] f32, xb is [m_pad, k_pad] bf16 bits; k_pad is a multiple of 32.
void convert_x_bf16_avx512(const float* x, int64_t m, int64_t k, int64_t k_pad, int64_t m_pad, uint16_t* xb);

}  // namespace serval::cpu
