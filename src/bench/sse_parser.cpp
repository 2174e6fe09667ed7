// Incremental SSE parsing (see sse_parser.h).
#include "bench/sse_parser.h"

namespace serval::bench {

void SseParser::feed(std::string_view bytes, const Handler& on_event) {
  size_t pos = 0;
  if (last_was_cr_ && !bytes.empty()) {
    if (bytes[0] == '\n') pos = 1;
    last_was_cr_ = false;
  }
  while (pos < bytes.size()) {
    const size_t eol = bytes.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos) {
      line_.append(bytes.substr(pos));
      return;
    }
    std::string_view piece = bytes.substr(pos, eol - pos);
    if (line_.empty()) {
      take_line(piece, on_event);
    } else {
      line_.append(piece);
      std::string line = std::move(line_);
      line_.clear();
      take_line(line, on_event);
    }
    pos = eol + 1;
    if (bytes[eol] == '\r') {
      if (pos < bytes.size()) {
        if (bytes[pos] == '\n') ++pos;
      } else {
        last_was_cr_ = true;
      }
    }
  }
}

void SseParser::finish(const Handler& on_event) {
  if (!line_.empty()) {
    std::string line = std::move(line_);
    line_.clear();
    take_line(line, on_event);
  }
  if (has_data_) dispatch(on_event);
}

void SseParser::take_line(std::string_view line, const Handler& on_event) {
  if (line.empty()) {
    if (has_data_) dispatch(on_event);
    return;
  }
  if (line[0] == ':') return;  // comment / keep-alive ping
  const size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  if (field != "data") return;
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

void SseParser::dispatch(const Handler& on_event) {
  ++num_events_;
  on_event(data_);
  data_.clear();
  has_data_ = false;
}

}  // namespace serval::bench
