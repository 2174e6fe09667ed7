// Gated-MLP activations on CPU: out = act(gate) * up, elementwise, float32.
#pragma once

#include <cstdint>

namespace serval::cpu {

// gate, up, out: [n] float32 (out may alias gate or up). SwiGLU: silu(g) = g / (1 + exp(-g)).
void silu_mul(const float* gate, const float* up, int64_t n, float* out);

}  // namespace serval::cpu
