#include "core/cpu_features.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace serval {
namespace {

TEST(CpuFeatures, BestIsaIsConsistentWithFlags) {
  const auto& f = cpu_features();
  Isa best = best_isa(f);
  if (best == Isa::Amx) {
    EXPECT_TRUE(f.amx_bf16 && f.avx512_bf16);
  }
  if (best == Isa::Avx512Bf16) {
    EXPECT_TRUE(f.avx512_bf16);
  }
  EXPECT_EQ(parse_isa(isa_name(best)), best);
}

TEST(CpuFeatures, UnknownIsaNameIsAnError) { EXPECT_THROW(parse_isa("sse9"), Error); }

}  // namespace
}  // namespace serval
