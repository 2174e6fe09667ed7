// SseParser: incremental Server-Sent Events parser. Bytes arrive split anywhere (mid-line, mid-CRLF,
// several events per read); each complete event's `data` is handed to a callback exactly once.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace serval::bench {

// NOTE: hand-written because no packaged C++ library parses SSE, and the format is ~40 lines:
// lines end in \n, \r\n or \r; `data:` lines accumulate (joined by \n); a blank line ends an event;
// lines starting with ':' are comments (keep-alive pings); other fields (event:, id:, retry:) are ignored.
class SseParser {
 public:
  using Handler = std::function<void(std::string_view data)>;

  // Feeds the next bytes of the stream; calls on_event for each event completed by them.
  void feed(std::string_view bytes, const Handler& on_event);
  // The stream has ended: a pending event with data but no terminating blank line is still delivered
  // (as vLLM's client accepts a complete trailing `data:` line).
  void finish(const Handler& on_event);

  // Number of events delivered so far.
  long num_events() const { return num_events_; }

 private:
  void take_line(std::string_view line, const Handler& on_event);
  void dispatch(const Handler& on_event);

  std::string line_;        // the incomplete current line
  std::string data_;        // data of the event being assembled
  bool has_data_ = false;
  bool last_was_cr_ = false;  // a '\r' ended the previous feed: skip a '\n' that starts the next one
  long num_events_ = 0;
};

}  // namespace serval::bench
