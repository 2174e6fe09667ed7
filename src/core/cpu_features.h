// CPU feature detection for run-time kernel dispatch, and the SERVAL_ISA override that forces a path.
#pragma once

#include <string>

namespace serval {

// Kernel paths, best first. Each path implies the ones after it are also available.
enum class Isa { Amx, Avx512Bf16, Avx2, Scalar };

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
  bool amx_tile = false;
  bool amx_bf16 = false;
  bool amx_int8 = false;
  bool amx_usable = false;  // the OS granted the AMX tile state (arch_prctl XCOMP_PERM)
  std::string model_name;   // from /proc/cpuinfo, empty if unknown
};

// Detected once per process.
const CpuFeatures& cpu_features();

// The best path this CPU supports, or the one forced by SERVAL_ISA=amx|avx512|avx2|scalar.
// Forcing a path the CPU lacks throws serval::Error naming both.
Isa active_isa();
Isa best_isa(const CpuFeatures& f);
// Whether the CPU (and OS) described by f can run the kernel path `isa`.
bool isa_supported(const CpuFeatures& f, Isa isa);
std::string isa_name(Isa isa);
Isa parse_isa(const std::string& name);

}  // namespace serval
