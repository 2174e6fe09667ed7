// Paths tests use: the shared golden data (../shared beside the checkout, or $SERVAL_SHARED),
// the source tree and the build tree.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace serval::test {

inline std::string shared_dir() {
  if (const char* env = std::getenv("SERVAL_SHARED")) return env;
  return SERVAL_SHARED_DIR;
}

inline std::string golden_dir() { return shared_dir() + "/golden"; }
inline std::string source_dir() { return SERVAL_SOURCE_DIR; }
inline std::string binary_dir() { return SERVAL_BINARY_DIR; }

}  // namespace serval::test

// Skips the current test, loudly, when the shared golden data is not present.
#define SERVAL_REQUIRE_GOLDEN()                                                              \
  do {                                                                                       \
    if (!std::filesystem::exists(::serval::test::golden_dir()))                              \
      GTEST_SKIP() << "shared golden data not found at " << ::serval::test::golden_dir()     \
                   << " (set SERVAL_SHARED)";                                                \
  } while (0)
