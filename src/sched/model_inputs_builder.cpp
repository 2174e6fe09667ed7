// build_model_inputs: SchedulerOutput -> ModelInputs.
#include "sched/model_inputs_builder.h"

namespace serval {

ModelInputs build_model_inputs(const SchedulerOutput& output) {
  ModelInputs in;
  in.token_ids.reserve(output.total_num_scheduled_tokens);
  in.positions.reserve(output.total_num_scheduled_tokens);
  in.seqs.reserve(output.scheduled.size());
  for (const ScheduledRequest& s : output.scheduled) {
    SeqSlice seq;
    seq.token_begin = static_cast<int32_t>(in.token_ids.size());
    seq.num_tokens = s.num_tokens;
    seq.num_computed = s.num_computed_tokens;
    seq.block_table = s.block_ids;
    in.token_ids.insert(in.token_ids.end(), s.token_ids.begin(), s.token_ids.end());
    for (int j = 0; j < s.num_tokens; ++j) in.positions.push_back(s.num_computed_tokens + j);
    if (s.produces_logits) in.logit_rows.push_back(seq.token_begin + s.num_tokens - 1);
    in.seqs.push_back(std::move(seq));
  }
  return in;
}

}  // namespace serval
