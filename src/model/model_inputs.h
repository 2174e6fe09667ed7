// ModelInputs / ModelOutput: what one batched forward step consumes and produces.
// One step runs ONE forward over all scheduled tokens of all sequences (continuous batching):
// tokens of every sequence are concatenated, each weight is multiplied once per step.
#pragma once

#include <cstdint>
#include <vector>

namespace serval {

// One sequence's share of a step.
struct SeqSlice {
  int32_t token_begin = 0;     // index of this sequence's first token in ModelInputs::token_ids
  int32_t num_tokens = 0;      // tokens of this sequence computed in this step (prefill chunk or 1 decode token)
  int32_t num_computed = 0;    // tokens of this sequence already in the KV cache before this step
                               // (== position of its first token this step)
  std::vector<int32_t> block_table;  // KV block ids holding positions [0, num_computed + num_tokens),
                                     // block i holds positions [i*block_size, (i+1)*block_size)
};

struct ModelInputs {
  std::vector<int32_t> token_ids;  // [num_tokens_total] all sequences' tokens, concatenated
  std::vector<int32_t> positions;  // [num_tokens_total] absolute position of each token in its sequence
  std::vector<SeqSlice> seqs;      // sequences in this step, in token order
  std::vector<int32_t> logit_rows; // which rows of token_ids need logits (usually each sequence's last)
};

struct ModelOutput {
  int64_t vocab_size = 0;
  std::vector<float> logits;  // [logit_rows.size(), vocab_size] float32, raw (before any sampling transform)
};

}  // namespace serval
