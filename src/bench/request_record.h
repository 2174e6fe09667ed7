// RequestRecord: what the streaming client observed for one request. All times are seconds on
// std::chrono::steady_clock, measured from the start of the run (the schedule's origin).
#pragma once

#include <string>
#include <vector>

namespace serval::bench {

struct RequestRecord {
  int index = 0;                // position in the run's request list
  double scheduled_s = 0;       // when the schedule says it should be sent
  double arrival_s = 0;         // when the client's pacer released it (late by the client's own lag)
  double start_s = 0;           // concurrency slot acquired; the request starts (connect if needed + write)
                                //   = vLLM's `st`: TTFT and E2EL are measured from here
  double first_chunk_s = -1;    // first SSE event with a non-empty `choices` (vLLM's first token)
  double last_chunk_s = -1;     // last such event (end of E2EL; the usage chunk and [DONE] excluded)
  double end_s = 0;             // the response was fully read, or the request failed
  std::vector<float> itl_s;     // gaps between consecutive choice-bearing events (one per chunk after the first)
  int num_chunks = 0;           // choice-bearing events
  int prompt_tokens = -1;       // usage.prompt_tokens, -1 when the server sent no usage
  int completion_tokens = -1;   // usage.completion_tokens, -1 when the server sent no usage
  bool reused_connection = false;  // sent on a kept-alive connection
  int http_status = 0;          // 0 when no response header arrived
  bool success = false;
  std::string error;            // one line, set when !success
  std::string text;             // generated text (only when BenchConfig::keep_text)

  double slot_wait_s() const { return start_s - arrival_s; }    // waiting for a --max-concurrency slot
  double schedule_lag_s() const { return arrival_s - scheduled_s; }  // client-caused lateness
};

}  // namespace serval::bench
