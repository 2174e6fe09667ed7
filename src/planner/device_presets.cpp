// Device presets (see device_presets.h).
#include "planner/device_presets.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "planner/capacity.h"

namespace serval {

namespace {
constexpr size_t kMiB = size_t{1} << 20;
}  // namespace

const std::vector<DevicePreset>& device_presets() {
  // memory.total as nvidia-smi prints it for each card (MiB), which is what torch.cuda.mem_get_info reports.
  static const std::vector<DevicePreset> presets = {
      {"h100-80gb", 81559 * kMiB, "NVIDIA H100 80GB HBM3"},
      {"h200", 143771 * kMiB, "NVIDIA H200 141GB HBM3e"},
      {"a100-80gb", 81920 * kMiB, "NVIDIA A100 80GB"},
      {"a100-40gb", 40960 * kMiB, "NVIDIA A100 40GB"},
      {"l40s", 46068 * kMiB, "NVIDIA L40S 48GB"},
      {"a10g", 23028 * kMiB, "NVIDIA A10G 24GB"},
      {"l4", 23034 * kMiB, "NVIDIA L4 24GB"},
      {"t4", 15360 * kMiB, "NVIDIA T4 16GB"},
      {"rtx-24gb", 24564 * kMiB, "GeForce RTX 3090/4090 24GB"},
      {"rtx-16gb", 16376 * kMiB, "GeForce RTX 16GB (4060 Ti 16GB, 4070 Ti Super, 4080)"},
  };
  return presets;
}

size_t parse_device_memory(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const DevicePreset& p : device_presets())
    if (p.name == lower) return p.memory_bytes;
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) return parse_memory_size(text);
  std::string names;
  for (const DevicePreset& p : device_presets()) names += (names.empty() ? "" : ", ") + p.name;
  throw Error("--device-memory '" + text + "' is neither a size (16GiB, 24G) nor a known device (" + names + ")");
}

}  // namespace serval
