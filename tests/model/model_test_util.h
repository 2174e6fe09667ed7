// Helpers for model tests: run prompts through a Model with simple block tables, read golden files.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "model/model.h"

namespace serval::test {

inline std::vector<float> read_f32_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  const auto size = static_cast<size_t>(f.tellg());
  std::vector<float> v(size / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size));
  return v;
}

inline float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

inline int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

// One sequence being fed to the model step by step, with its own block table.
struct TestSeq {
  std::vector<int32_t> tokens;       // all tokens so far
  int32_t num_computed = 0;          // tokens already in the KV cache
  std::vector<int32_t> block_table;  // blocks handed out so far
};

// Appends `count` of seq's pending tokens (from num_computed) to `in`, taking blocks from `free_blocks`.
inline void add_to_step(ModelInputs& in, TestSeq& seq, int count, int block_size, std::vector<int32_t>& free_blocks,
                        bool want_all_logits) {
  SeqSlice s;
  s.token_begin = static_cast<int32_t>(in.token_ids.size());
  s.num_tokens = count;
  s.num_computed = seq.num_computed;
  const int needed = (seq.num_computed + count + block_size - 1) / block_size;
  while (static_cast<int>(seq.block_table.size()) < needed) {
    seq.block_table.push_back(free_blocks.back());
    free_blocks.pop_back();
  }
  s.block_table = seq.block_table;
  for (int i = 0; i < count; ++i) {
    in.token_ids.push_back(seq.tokens[static_cast<size_t>(seq.num_computed + i)]);
    in.positions.push_back(seq.num_computed + i);
    if (want_all_logits || i == count - 1) in.logit_rows.push_back(s.token_begin + i);
  }
  in.seqs.push_back(std::move(s));
  seq.num_computed += count;
}

// Block ids num_blocks-1 .. 0 (handed out from the back: 0, 1, 2, ...).
inline std::vector<int32_t> block_list(int num_blocks) {
  std::vector<int32_t> v(static_cast<size_t>(num_blocks));
  std::iota(v.rbegin(), v.rend(), 0);
  return v;
}

// Runs a whole prompt in one step; returns logits of the last position (or all positions).
inline std::vector<float> run_prompt(Model& m, const std::vector<int32_t>& ids, bool all_positions = false,
                                     int block_size = 16) {
  const int num_blocks = static_cast<int>(ids.size()) / block_size + 2;
  KvCache kv(m.kv_cache_shape(num_blocks, block_size));
  std::vector<int32_t> free_blocks = block_list(num_blocks);
  TestSeq seq{ids, 0, {}};
  ModelInputs in;
  add_to_step(in, seq, static_cast<int>(ids.size()), block_size, free_blocks, all_positions);
  ModelOutput out;
  m.forward(in, kv, out);
  return out.logits;
}

// Greedy continuation: the prompt in one step, then `steps` one-token decode steps through one KV cache.
// Returns the generated ids; every logit must be finite.
inline std::vector<int32_t> greedy_ids(Model& m, const std::vector<int32_t>& prompt, int steps, int block_size = 16) {
  const int nb = (static_cast<int>(prompt.size()) + steps) / block_size + 2;
  KvCache kv(m.kv_cache_shape(nb, block_size));
  std::vector<int32_t> free_blocks = block_list(nb);
  TestSeq seq{prompt, 0, {}};
  std::vector<int32_t> out;
  int count = static_cast<int>(prompt.size());
  for (int s = 0; s < steps; ++s) {
    ModelInputs in;
    add_to_step(in, seq, count, block_size, free_blocks, false);
    ModelOutput o;
    m.forward(in, kv, o);
    for (float v : o.logits) EXPECT_TRUE(std::isfinite(v));
    const auto next = static_cast<int32_t>(argmax(o.logits.data(), o.vocab_size));
    out.push_back(next);
    seq.tokens.push_back(next);
    count = 1;
  }
  return out;
}

}  // namespace serval::test
