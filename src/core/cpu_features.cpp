#include "core/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"

namespace serval {

namespace {

constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    f.fma = (c >> 12) & 1;
    f.f16c = (c >> 29) & 1;
  }
  bool os_avx = false, os_avx512 = false;
  if ((c >> 27) & 1) {  // OSXSAVE
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    os_avx = (lo & 0x6) == 0x6;
    os_avx512 = (lo & 0xe6) == 0xe6;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = os_avx && ((b >> 5) & 1);
    f.avx512f = os_avx512 && ((b >> 16) & 1);
    f.avx512bw = os_avx512 && ((b >> 30) & 1);
    f.avx512vl = os_avx512 && ((b >> 31) & 1);
    f.avx512_vnni = os_avx512 && ((c >> 11) & 1);
    f.amx_bf16 = (d >> 22) & 1;
    f.amx_tile = (d >> 24) & 1;
    f.amx_int8 = (d >> 25) & 1;
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512_bf16 = os_avx512 && ((a >> 5) & 1);
  if (f.amx_tile) f.amx_usable = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos) f.model_name = line.substr(pos + 2);
      break;
    }
  }
  return f;
}

}  // namespace

bool isa_supported(const CpuFeatures& f, Isa isa) {
  switch (isa) {
    case Isa::Amx: return f.amx_bf16 && f.amx_usable && f.avx512_bf16 && f.avx512bw;
    case Isa::Avx512Bf16: return f.avx512f && f.avx512bw && f.avx512vl && f.avx512_bf16;
    case Isa::Avx2: return f.avx2 && f.fma && f.f16c;
    case Isa::Scalar: return true;
  }
  return false;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa best_isa(const CpuFeatures& f) {
  for (Isa isa : {Isa::Amx, Isa::Avx512Bf16, Isa::Avx2})
    if (isa_supported(f, isa)) return isa;
  return Isa::Scalar;
}

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::Amx: return "amx";
    case Isa::Avx512Bf16: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Scalar: return "scalar";
  }
  return "unknown";
}

Isa parse_isa(const std::string& name) {
  if (name == "amx") return Isa::Amx;
  if (name == "avx512" || name == "avx512bf16") return Isa::Avx512Bf16;
  if (name == "avx2") return Isa::Avx2;
  if (name == "scalar") return Isa::Scalar;
  throw Error("SERVAL_ISA='" + name + "' is not a kernel path (expected amx, avx512, avx2 or scalar)");
}

Isa active_isa() {
  static const Isa isa = [] {
    const char* forced = std::getenv("SERVAL_ISA");
    if (forced == nullptr || *forced == '\0') return best_isa(cpu_features());
    Isa want = parse_isa(forced);
    if (!isa_supported(cpu_features(), want))
      throw Error("SERVAL_ISA=" + std::string(forced) + " but this CPU lacks it (best available: " +
                  isa_name(best_isa(cpu_features())) + ")");
    return want;
  }();
  return isa;
}

}  // namespace serval
