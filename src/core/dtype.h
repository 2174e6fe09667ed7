// Element types of weights and KV cache, and scalar conversions between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace serval {

enum class DType : uint8_t { F32, F16, BF16 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "float32", "float16", "bfloat16" (vLLM's spelling)
// Parses vLLM's names: float32/float/fp32, float16/half/fp16, bfloat16/bf16. Throws serval::Error otherwise.
DType parse_dtype(std::string_view name);
// Parses safetensors' dtype tags: F32, F16, BF16. Throws serval::Error naming the tag otherwise.
DType parse_safetensors_dtype(std::string_view tag);

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round-to-nearest-even, NaN preserved (as torch does).
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Converts n elements of type `from` at src to float32 at dst.
void convert_to_f32(DType from, const void* src, float* dst, size_t n);
// Converts n float32 values to type `to` at dst.
void convert_from_f32(DType to, const float* src, void* dst, size_t n);

}  // namespace serval
