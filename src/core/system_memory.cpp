// SystemMemory: parses the "Name:   12345 kB" lines of /proc/meminfo.
#include "core/system_memory.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace serval {

SystemMemory read_system_memory(const std::string& meminfo_path) {
  std::ifstream in(meminfo_path);
  check(in.good(), "cannot read " + meminfo_path + " to size the KV cache; pass --kv-cache-memory SIZE");
  SystemMemory m;
  bool have_available = false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name, unit;
    size_t value = 0;
    if (!(ls >> name >> value)) continue;
    ls >> unit;
    const size_t bytes = unit == "kB" ? value * 1024 : value;
    if (name == "MemTotal:") m.total_bytes = bytes;
    if (name == "MemAvailable:") {
      m.available_bytes = bytes;
      have_available = true;
    }
  }
  check(m.total_bytes > 0, meminfo_path + " has no MemTotal line; pass --kv-cache-memory SIZE");
  if (!have_available) m.available_bytes = m.total_bytes;
  return m;
}

}  // namespace serval
