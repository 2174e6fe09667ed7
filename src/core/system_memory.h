// SystemMemory: the machine's RAM as /proc/meminfo reports it. On CPU this is serval's "device memory"
// for --gpu-memory-utilization (vLLM's GPU total / free memory at start-up).
#pragma once

#include <cstddef>
#include <string>

namespace serval {

struct SystemMemory {
  size_t total_bytes = 0;      // MemTotal
  size_t available_bytes = 0;  // MemAvailable (free + reclaimable page cache)
};

// Reads /proc/meminfo. Throws serval::Error when it cannot be read or lacks MemTotal.
SystemMemory read_system_memory(const std::string& meminfo_path = "/proc/meminfo");

}  // namespace serval
