// libFuzzer target: safetensors header parsing from a memory buffer. Any input must either parse into
// views that lie inside the buffer or throw serval::Error; never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto views = serval::parse_safetensors(data, size, "fuzz-input");
    for (const auto& t : views) {
      if (t.data < data || t.data + t.nbytes > data + size) std::abort();
      volatile uint8_t sink = 0;
      if (t.nbytes > 0) sink = static_cast<uint8_t>(t.data[0] ^ t.data[t.nbytes - 1]);
      (void)sink;
      try {
        (void)t.dtype();
      } catch (const serval::Error&) {
      }
    }
  } catch (const serval::Error&) {
  }
  return 0;
}
