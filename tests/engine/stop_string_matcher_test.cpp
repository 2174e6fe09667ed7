// StopStringMatcher: matches across appended pieces, holds back only possible prefixes, earliest match wins.
#include <gtest/gtest.h>

#include "engine/stop_string_matcher.h"

namespace serval {
namespace {

std::string feed(StopStringMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.append(p);
  return out;
}

TEST(StopStringMatcher, MatchSpanningPiecesIsNeverEmitted) {
  StopStringMatcher m({"END"}, false);
  EXPECT_EQ(m.append("abc E"), "abc ");  // "E" could start "END": held back
  EXPECT_EQ(m.append("N"), "");
  EXPECT_EQ(m.append("Dxyz"), "");
  ASSERT_TRUE(m.matched());
  EXPECT_EQ(*m.matched(), "END");
  EXPECT_EQ(m.append("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopStringMatcher, HeldBackTextIsReleasedWhenItStopsBeingAPrefix) {
  StopStringMatcher m({"END"}, false);
  EXPECT_EQ(m.append("xE"), "x");
  EXPECT_EQ(m.append("Nd"), "ENd");
  EXPECT_EQ(m.append("EN"), "");
  EXPECT_EQ(m.flush(), "EN");
  EXPECT_FALSE(m.matched());
}

TEST(StopStringMatcher, IncludeStopStrKeepsTheMatch) {
  StopStringMatcher m({"\n\n"}, true);
  EXPECT_EQ(feed(m, {"one\n", "\ntwo"}), "one\n\n");
}

TEST(StopStringMatcher, EarliestMatchWinsAcrossStopStrings) {
  StopStringMatcher m({"world", "lo w"}, false);
  EXPECT_EQ(feed(m, {"hello world"}), "hel");
  EXPECT_EQ(*m.matched(), "lo w");
}

TEST(StopStringMatcher, NoStopStringsPassesTextThrough) {
  StopStringMatcher m({}, false);
  EXPECT_FALSE(m.active());
  EXPECT_EQ(m.append("abc"), "abc");
  StopStringMatcher e({""}, false);  // empty strings are ignored
  EXPECT_EQ(e.append("abc"), "abc");
}

TEST(StopStringMatcher, MultiByteCharactersAreHeldWhole) {
  StopStringMatcher m({"éx"}, false);
  EXPECT_EQ(m.append("café"), "caf");
  EXPECT_EQ(m.append("!"), "é!");
}

}  // namespace
}  // namespace serval
