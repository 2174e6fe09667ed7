// Request helpers: status names, finish reasons, token-level stop checks.
#include "sched/request.h"

#include <algorithm>
#include <stdexcept>

namespace serval {

bool is_finished(RequestStatus s) {
  return s == RequestStatus::FinishedStopped || s == RequestStatus::FinishedLengthCapped ||
         s == RequestStatus::FinishedAborted;
}

std::string_view status_name(RequestStatus s) {
  switch (s) {
    case RequestStatus::Waiting:
      return "WAITING";
    case RequestStatus::Running:
      return "RUNNING";
    case RequestStatus::Preempted:
      return "PREEMPTED";
    case RequestStatus::FinishedStopped:
      return "FINISHED_STOPPED";
    case RequestStatus::FinishedLengthCapped:
      return "FINISHED_LENGTH_CAPPED";
    case RequestStatus::FinishedAborted:
      return "FINISHED_ABORTED";
  }
  return "?";
}

std::string_view finish_reason(RequestStatus s) {
  switch (s) {
    case RequestStatus::FinishedStopped:
      return "stop";
    case RequestStatus::FinishedLengthCapped:
      return "length";
    case RequestStatus::FinishedAborted:
      return "abort";
    default:
      return "";
  }
}

Request::Request(RequestId id, std::vector<int32_t> prompt, StopCriteria stop_criteria)
    : request_id(std::move(id)),
      prompt_token_ids(std::move(prompt)),
      all_token_ids(prompt_token_ids),
      stop(std::move(stop_criteria)) {}

void Request::append_output_token(int32_t token_id) {
  if (is_finished(status)) throw std::logic_error("append_output_token to finished request " + request_id);
  output_token_ids.push_back(token_id);
  all_token_ids.push_back(token_id);
}

bool check_stop(Request& r, int max_model_len) {
  if (r.output_token_ids.empty())
    throw std::logic_error("check_stop without output tokens for " + r.request_id);
  if (r.num_tokens() >= max_model_len || r.num_output_tokens() >= r.stop.max_tokens) {
    r.status = RequestStatus::FinishedLengthCapped;
    return true;
  }
  if (r.num_output_tokens() < r.stop.min_tokens) return false;
  const int32_t last = r.output_token_ids.back();
  auto contains = [last](const std::vector<int32_t>& ids) {
    return std::find(ids.begin(), ids.end(), last) != ids.end();
  };
  if (!r.stop.ignore_eos && contains(r.stop.eos_token_ids)) {
    r.status = RequestStatus::FinishedStopped;
    return true;
  }
  if (contains(r.stop.stop_token_ids)) {
    r.status = RequestStatus::FinishedStopped;
    r.stop_reason = last;
    return true;
  }
  return false;
}

}  // namespace serval
