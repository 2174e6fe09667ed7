// Known accelerators for `serval plan --device-memory NAME`: total memory as the driver reports it
// (nvidia-smi's memory.total), so a plan for "h100-80gb" budgets what vLLM would see on that card.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace serval {

struct DevicePreset {
  std::string name;        // e.g. "h100-80gb"
  size_t memory_bytes = 0; // total device memory reported by the driver
  std::string description;
};

const std::vector<DevicePreset>& device_presets();

// A preset name (case-insensitive) or a size (16GiB, 24G, 8000000000). Throws serval::Error naming the
// text and listing the known names when it is neither.
size_t parse_device_memory(const std::string& text);

}  // namespace serval
