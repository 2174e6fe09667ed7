// MLP activations on CPU, elementwise, float32: gated (out = act(gate) * up: SwiGLU, GeGLU) and plain
// (out = act(x): Phi-2's fc1 -> gelu_new -> fc2).
#pragma once

#include <cstdint>

namespace serval::cpu {

// gate, up, out: [n] float32 (out may alias gate or up). SwiGLU: silu(g) = g / (1 + exp(-g)).
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
// GeGLU with the tanh approximation (HF gelu_pytorch_tanh / gelu_new):
// gelu(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))).
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out);
// GeGLU with the exact GELU (HF "gelu"): gelu(g) = 0.5 g (1 + erf(g / sqrt(2))).
void gelu_mul(const float* gate, const float* up, int64_t n, float* out);

// x, out: [n] float32 (out may alias x).
void silu(const float* x, int64_t n, float* out);
void gelu_tanh(const float* x, int64_t n, float* out);
void gelu(const float* x, int64_t n, float* out);

}  // namespace serval::cpu
