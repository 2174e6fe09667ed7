// build_model_inputs: flattens a SchedulerOutput into the ModelInputs of one batched forward step
// (token ids, positions, per-sequence slices with block tables, rows that need logits).
#pragma once

#include "model/model_inputs.h"
#include "sched/scheduler_output.h"

namespace serval {

// Sequences appear in output.scheduled order; logit_rows holds, for each sequence with produces_logits,
// the row of its last token this step, so the i-th logits row belongs to the i-th such sequence.
ModelInputs build_model_inputs(const SchedulerOutput& output);

}  // namespace serval
