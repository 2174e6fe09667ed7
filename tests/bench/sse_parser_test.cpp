// SseParser: events survive any split of the byte stream; comments, CRLF/CR, multi-line data, trailing data.
#include "bench/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace serval::bench {
namespace {

std::vector<std::string> parse_in_pieces(const std::string& stream, const std::vector<size_t>& cuts) {
  SseParser parser;
  std::vector<std::string> events;
  const SseParser::Handler on_event = [&](std::string_view d) { events.emplace_back(d); };
  size_t prev = 0;
  for (size_t cut : cuts) {
    parser.feed(std::string_view(stream).substr(prev, cut - prev), on_event);
    prev = cut;
  }
  parser.feed(std::string_view(stream).substr(prev), on_event);
  parser.finish(on_event);
  return events;
}

TEST(BenchSseParser, EveryTwoWaySplitGivesTheSameEvents) {
  const std::string stream =
      ": ping\r\n\r\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\n\nevent: x\nid: 3\ndata: [DONE]\n\n";
  const std::vector<std::string> expected = {"{\"a\":1}", "{\"b\":2}", "[DONE]"};
  EXPECT_EQ(parse_in_pieces(stream, {}), expected);
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); j += 7) EXPECT_EQ(parse_in_pieces(stream, {i, j}), expected) << i << "," << j;
  }
}

TEST(BenchSseParser, ByteAtATimeAndManyEventsPerRead) {
  std::string stream;
  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i) {
    stream += "data: " + std::to_string(i) + "\n\n";
    expected.push_back(std::to_string(i));
  }
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < stream.size(); ++i) every_byte.push_back(i);
  EXPECT_EQ(parse_in_pieces(stream, every_byte), expected);
  EXPECT_EQ(parse_in_pieces(stream, {}), expected);
}

TEST(BenchSseParser, CarriageReturnOnlyLineEndingsSplitBetweenCrAndLf) {
  EXPECT_EQ(parse_in_pieces("data: a\r\rdata: b\r\n\r\n", {}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_in_pieces("data: a\r\n\r\ndata: b\r\n\r\n", {8}), (std::vector<std::string>{"a", "b"}));
}

TEST(BenchSseParser, MultiLineDataIsJoinedWithNewlines) {
  EXPECT_EQ(parse_in_pieces("data: one\ndata: two\n\n", {}), (std::vector<std::string>{"one\ntwo"}));
}

TEST(BenchSseParser, TrailingEventWithoutBlankLineIsDeliveredAtFinish) {
  EXPECT_EQ(parse_in_pieces("data: {\"x\":1}\n\ndata: [DONE]", {}), (std::vector<std::string>{"{\"x\":1}", "[DONE]"}));
}

TEST(BenchSseParser, CommentsAndBlankLinesAloneProduceNoEvents) {
  EXPECT_TRUE(parse_in_pieces(": keep-alive\n\n\n\n: another\n\n", {}).empty());
}

}  // namespace
}  // namespace serval::bench
