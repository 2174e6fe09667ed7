// Scheduler stepped with a fake model (TensorRT-LLM style): exact schedules after each step, budgets,
// running-first/FCFS, chunked prefill, preemption of the newest request, prefix-cache reuse, abort.
// The fake model keeps its own paged "KV" (one token id per slot) addressed ONLY through the block
// tables it is given, and computes each next token from what it reads back, so a wrong block table,
// a shared block overwritten or a stale prefix hit changes the generated tokens.
#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "core/error.h"
#include "sched/model_inputs_builder.h"

namespace serval {
namespace {

using Ids = std::vector<int32_t>;
using Plan = std::vector<std::pair<RequestId, int>>;  // {request_id: num_tokens} in schedule order

// The deterministic "model": next token as a function of the whole sequence so far.
int32_t next_token(const Ids& seq) {
  uint64_t h = seq.size();
  for (size_t i = 0; i < seq.size(); ++i) h = h * 1000003u + static_cast<uint64_t>(seq[i]) * (i + 7);
  return static_cast<int32_t>(h % 997) + 3;
}

// What a request must generate: next_token applied max_tokens times (no stop ids).
Ids reference_output(Ids seq, int max_tokens) {
  Ids out;
  for (int i = 0; i < max_tokens; ++i) {
    out.push_back(next_token(seq));
    seq.push_back(out.back());
  }
  return out;
}

class FakeModel {
 public:
  FakeModel(int num_blocks, int block_size) : block_size_(block_size), slots_(num_blocks * block_size, -1) {}

  // One row per logit_rows entry.
  Ids forward(const ModelInputs& in) {
    for (const SeqSlice& s : in.seqs)
      for (int j = 0; j < s.num_tokens; ++j) {
        EXPECT_EQ(in.positions[s.token_begin + j], s.num_computed + j);
        slot(s, s.num_computed + j) = in.token_ids[s.token_begin + j];
      }
    Ids rows;
    for (const SeqSlice& s : in.seqs) {
      const int end = s.num_computed + s.num_tokens;
      if (std::find(in.logit_rows.begin(), in.logit_rows.end(), s.token_begin + s.num_tokens - 1) ==
          in.logit_rows.end())
        continue;
      Ids seq;
      for (int p = 0; p < end; ++p) seq.push_back(slot(s, p));
      rows.push_back(next_token(seq));
    }
    EXPECT_EQ(rows.size(), in.logit_rows.size());
    return rows;
  }

 private:
  int32_t& slot(const SeqSlice& s, int pos) {
    const int32_t block = s.block_table.at(pos / block_size_);
    EXPECT_NE(block, BlockPool::kNullBlockId);
    return slots_.at(block * block_size_ + pos % block_size_);
  }
  int block_size_;
  Ids slots_;
};

// An engine loop around the scheduler and the fake model.
struct Harness {
  Harness(SchedulerConfig sc, KvCacheConfig kc) : sched(sc, kc), model(kc.num_blocks, kc.block_size) {}

  void add(const RequestId& id, Ids prompt, int max_tokens, StopCriteria stop = {}) {
    stop.max_tokens = max_tokens;
    sched.add_request(Request(id, std::move(prompt), stop));
  }

  // One engine step: schedule, run, update. Returns the schedule.
  SchedulerOutput step() {
    SchedulerOutput out = sched.schedule();
    last_inputs = build_model_inputs(out);
    if (out.empty()) return out;
    const Ids rows = model.forward(last_inputs);
    std::vector<Ids> sampled(out.scheduled.size());
    size_t r = 0;
    for (size_t i = 0; i < out.scheduled.size(); ++i)
      if (out.scheduled[i].produces_logits) sampled[i] = {rows.at(r++)};
    for (const RequestUpdate& ro : sched.update_from_output(out, sampled)) {
      auto& o = outputs[ro.request_id];
      o.insert(o.end(), ro.new_token_ids.begin(), ro.new_token_ids.end());
      if (ro.finished) finished[ro.request_id] = ro;
    }
    return out;
  }

  int run_to_completion(int max_steps = 100000) {
    int steps = 0;
    while (sched.has_unfinished_requests() && steps < max_steps) {
      step();
      ++steps;
    }
    EXPECT_FALSE(sched.has_unfinished_requests()) << "did not finish in " << max_steps << " steps";
    return steps;
  }

  Scheduler sched;
  FakeModel model;
  ModelInputs last_inputs;
  std::map<RequestId, Ids> outputs;
  std::map<RequestId, RequestUpdate> finished;
};

StopCriteria max_tokens_only(int max_tokens) {
  StopCriteria s;
  s.max_tokens = max_tokens;
  return s;
}

Plan plan(const SchedulerOutput& out) {
  Plan p;
  for (const auto& s : out.scheduled) p.emplace_back(s.request_id, s.num_tokens);
  return p;
}

Ids iota(int n, int start = 0) {
  Ids v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

SchedulerConfig sched_config(int max_num_batched_tokens, int max_num_seqs, int max_model_len,
                             bool chunked = true) {
  return SchedulerConfig{.max_num_seqs = max_num_seqs,
                         .max_num_batched_tokens = max_num_batched_tokens,
                         .max_model_len = max_model_len,
                         .enable_chunked_prefill = chunked};
}

KvCacheConfig kv_config(int num_blocks, bool caching = true) {
  return KvCacheConfig{.num_blocks = num_blocks, .block_size = 4, .enable_prefix_caching = caching};
}

TEST(Scheduler, ChunkedPrefillSplitsALongPromptAcrossStepsUnderTheTokenBudget) {
  Harness h(sched_config(8, 4, 64), kv_config(64));
  h.add("a", iota(20, 10), 3);
  h.add("b", iota(3, 50), 3);

  SchedulerOutput s1 = h.step();
  EXPECT_EQ(plan(s1), (Plan{{"a", 8}}));
  EXPECT_FALSE(s1.scheduled[0].produces_logits);
  EXPECT_TRUE(h.last_inputs.logit_rows.empty());  // a partial chunk is not sampled
  EXPECT_EQ(s1.scheduled[0].kind, ScheduleKind::New);
  EXPECT_EQ(s1.num_running, 1);
  EXPECT_EQ(s1.num_waiting, 1);

  SchedulerOutput s2 = h.step();
  EXPECT_EQ(plan(s2), (Plan{{"a", 8}}));
  EXPECT_EQ(s2.scheduled[0].kind, ScheduleKind::Running);
  EXPECT_EQ(h.last_inputs.seqs[0].num_computed, 8);
  EXPECT_EQ(h.last_inputs.positions, iota(8, 8));
  EXPECT_EQ(h.last_inputs.token_ids, iota(8, 18));
  EXPECT_EQ(h.last_inputs.seqs[0].block_table, (Ids{1, 2, 3, 4}));

  SchedulerOutput s3 = h.step();  // a's last 4 prompt tokens, then b fits in the rest of the budget
  EXPECT_EQ(plan(s3), (Plan{{"a", 4}, {"b", 3}}));
  EXPECT_EQ(s3.total_num_scheduled_tokens, 7);
  EXPECT_EQ(h.last_inputs.logit_rows, (Ids{3, 6}));
  EXPECT_EQ(h.last_inputs.seqs[1].block_table, (Ids{6}));

  EXPECT_EQ(plan(h.step()), (Plan{{"a", 1}, {"b", 1}}));
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 1}, {"b", 1}}));
  EXPECT_FALSE(h.sched.has_unfinished_requests());
  EXPECT_EQ(h.outputs["a"], reference_output(iota(20, 10), 3));
  EXPECT_EQ(h.outputs["b"], reference_output(iota(3, 50), 3));
  EXPECT_EQ(h.finished["a"].status, RequestStatus::FinishedLengthCapped);
  EXPECT_EQ(h.finished["a"].num_prompt_tokens, 20);
  EXPECT_EQ(h.finished["a"].num_output_tokens, 3);
  EXPECT_DOUBLE_EQ(h.sched.stats().kv_cache_usage, 0.0);
  EXPECT_EQ(h.sched.schedule().finished_request_ids, (std::vector<RequestId>{"a", "b"}));
}

TEST(Scheduler, RunningRequestsFirstThenWaitingInArrivalOrderUnderMaxNumSeqs) {
  Harness h(sched_config(64, 2, 64), kv_config(64));
  h.add("a", iota(5, 1), 2);
  h.add("b", iota(5, 2), 2);
  h.add("c", iota(5, 3), 3);
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 5}, {"b", 5}}));  // c waits: max_num_seqs = 2
  h.add("d", iota(5, 4), 2);
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 1}, {"b", 1}}));  // a and b finish here
  EXPECT_EQ(plan(h.step()), (Plan{{"c", 5}, {"d", 5}}));  // FCFS: c before d
  EXPECT_EQ(plan(h.step()), (Plan{{"c", 1}, {"d", 1}}));  // d finishes
  h.add("e", iota(5, 5), 1);
  EXPECT_EQ(plan(h.step()), (Plan{{"c", 1}, {"e", 5}}));  // running c first
  EXPECT_FALSE(h.sched.has_unfinished_requests());
  for (const char* id : {"a", "b", "d", "e"})
    EXPECT_EQ(h.finished[id].status, RequestStatus::FinishedLengthCapped);
}

TEST(Scheduler, WithoutChunkedPrefillAPromptThatDoesNotFitWaitsWhileLaterOnesMayGo) {
  Harness h(sched_config(16, 8, 16, /*chunked=*/false), kv_config(64));
  h.add("a", iota(12, 1), 2);
  h.add("b", iota(6, 2), 2);
  h.add("c", iota(3, 3), 2);
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 12}, {"c", 3}}));  // b (6) does not fit the 4 left; vLLM skips it
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 1}, {"c", 1}, {"b", 6}}));
  h.run_to_completion();
  EXPECT_EQ(h.outputs["b"], reference_output(iota(6, 2), 2));
  EXPECT_THROW(h.add("long", iota(17), 1), Error);  // longer than max_model_len (= max_num_batched_tokens)
  // vLLM's rule: without chunked prefill the budget must hold a whole max_model_len prompt.
  EXPECT_THROW(Scheduler(sched_config(8, 4, 16, false), kv_config(64)), Error);
}

TEST(Scheduler, RejectsBadRequestsAndConfigs) {
  Scheduler s(sched_config(16, 4, 32), kv_config(64));
  EXPECT_THROW(s.add_request(Request("x", {}, StopCriteria{})), Error);
  EXPECT_THROW(s.add_request(Request("x", iota(33), StopCriteria{})), Error);
  EXPECT_THROW(s.add_request(Request("x", iota(3), max_tokens_only(0))), Error);
  s.add_request(Request("x", iota(3), StopCriteria{}));
  EXPECT_THROW(s.add_request(Request("x", iota(3), StopCriteria{})), Error);  // duplicate live id
  EXPECT_THROW(Scheduler(sched_config(2, 4, 32), kv_config(64)), Error);      // budget < max_num_seqs
  EXPECT_THROW(Scheduler(sched_config(16, 4, 64), kv_config(10)), Error);     // 16 blocks needed, 9 usable
}

TEST(Scheduler, PreemptsTheNewestRunningRequestAndItResumesFromThePrefixCache) {
  // 6 usable blocks of 4 tokens, three 8-token prompts: all three fit, then the oldest needs a 3rd block.
  Harness h(sched_config(64, 8, 16), kv_config(7));
  h.add("a", iota(8, 100), 6);
  h.add("b", iota(8, 200), 6);
  h.add("c", iota(8, 300), 6);
  SchedulerOutput s1 = h.step();
  EXPECT_EQ(plan(s1), (Plan{{"a", 8}, {"b", 8}, {"c", 8}}));
  EXPECT_EQ(s1.scheduled[2].block_ids, (Ids{5, 6}));
  EXPECT_DOUBLE_EQ(h.sched.stats().kv_cache_usage, 1.0);

  SchedulerOutput s2 = h.step();
  EXPECT_EQ(plan(s2), (Plan{{"a", 1}, {"b", 1}}));
  EXPECT_EQ(s2.preempted_request_ids, (std::vector<RequestId>{"c"}));
  // c's cached blocks were freed tail first: a evicts c's 2nd block, b its 1st.
  EXPECT_EQ(s2.scheduled[0].block_ids, (Ids{1, 2, 6}));
  EXPECT_EQ(s2.scheduled[1].block_ids, (Ids{3, 4, 5}));
  const Request* c = h.sched.find_request("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, RequestStatus::Preempted);
  EXPECT_EQ(c->num_computed_tokens, 0);
  EXPECT_EQ(c->output_token_ids.size(), 1u);  // kept: re-prefilled as part of its prompt
  EXPECT_EQ(h.sched.stats().num_preemptions, 1);
  EXPECT_EQ(h.sched.num_waiting(), 1);

  h.run_to_completion();
  for (const auto& [id, base] : {std::pair{"a", 100}, {"b", 200}, {"c", 300}})
    EXPECT_EQ(h.outputs[id], reference_output(iota(8, base), 6)) << id;
  EXPECT_DOUBLE_EQ(h.sched.stats().kv_cache_usage, 0.0);
}

TEST(Scheduler, APreemptedRequestWaitsAtTheFrontOfTheQueueAndRecomputesItsOutputs) {
  // Two 7-token prompts; 5 usable blocks. At 9 tokens each needs a 3rd block: b (newest) preempts itself.
  Harness h(sched_config(64, 8, 16), kv_config(6, /*caching=*/false));
  h.add("a", iota(7, 10), 8);
  h.add("b", iota(7, 20), 8);
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 7}, {"b", 7}}));
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 1}, {"b", 1}}));
  SchedulerOutput s3 = h.step();
  EXPECT_EQ(plan(s3), (Plan{{"a", 1}}));
  EXPECT_EQ(s3.preempted_request_ids, (std::vector<RequestId>{"b"}));
  EXPECT_EQ(s3.scheduled[0].block_ids, (Ids{1, 2, 5}));
  h.add("late", iota(2, 30), 1);  // arrives after the preemption: queued behind b
  for (int step = 4; step <= 8; ++step) EXPECT_EQ(plan(h.step()), (Plan{{"a", 1}})) << step;  // b can't fit
  EXPECT_EQ(h.finished["a"].status, RequestStatus::FinishedLengthCapped);
  SchedulerOutput s9 = h.step();  // b recomputes prompt + 2 outputs (9 tokens): no prefix caching here
  EXPECT_EQ(plan(s9), (Plan{{"b", 9}, {"late", 2}}));
  EXPECT_EQ(s9.scheduled[0].kind, ScheduleKind::Resumed);
  EXPECT_EQ(s9.scheduled[0].num_computed_tokens, 0);
  EXPECT_EQ(s9.scheduled[1].kind, ScheduleKind::New);
  h.run_to_completion();
  EXPECT_EQ(h.outputs["a"], reference_output(iota(7, 10), 8));
  EXPECT_EQ(h.outputs["b"], reference_output(iota(7, 20), 8));
  EXPECT_EQ(h.outputs["late"], reference_output(iota(2, 30), 1));
}

TEST(Scheduler, ASecondRequestSharingALongPrefixSkipsThatPrefill) {
  Harness h(sched_config(64, 8, 64), kv_config(32));
  const Ids shared = iota(16, 500);
  Ids pa = shared, pb = shared;
  pa.insert(pa.end(), {1, 2, 3});
  pb.insert(pb.end(), {7, 8});
  h.add("a", pa, 4);
  EXPECT_EQ(plan(h.step()), (Plan{{"a", 19}}));
  h.add("b", pb, 4);  // a is still running; its 4 full prompt blocks are cached
  SchedulerOutput s2 = h.step();
  EXPECT_EQ(plan(s2), (Plan{{"a", 1}, {"b", 2}}));
  EXPECT_EQ(s2.scheduled[1].num_computed_tokens, 16);
  EXPECT_EQ(s2.scheduled[1].block_ids, (Ids{1, 2, 3, 4, 6}));
  EXPECT_EQ(h.sched.find_request("b")->num_cached_tokens, 16);
  const PrefixCacheStats st = h.sched.stats().prefix_cache;
  EXPECT_EQ(st.queries, 19 + 18);
  EXPECT_EQ(st.hits, 16);
  h.run_to_completion();
  EXPECT_EQ(h.outputs["b"], reference_output(pb, 4));
  EXPECT_EQ(h.finished["b"].num_cached_tokens, 16);
  EXPECT_DOUBLE_EQ(h.sched.stats().kv_cache_usage, 0.0);

  // After both finished, the same prompt hits everything but its last token's block.
  h.add("again", pa, 1);
  SchedulerOutput s = h.step();
  EXPECT_EQ(plan(s), (Plan{{"again", 3}}));
  EXPECT_EQ(h.outputs["again"], reference_output(pa, 1));
}

TEST(Scheduler, AbortFreesBlocksInAnyStateAndIsReportedOnce) {
  Harness h(sched_config(8, 2, 64), kv_config(32));
  h.add("run", iota(6), 10);
  h.add("chunk", iota(20, 1), 10);
  h.add("wait", iota(4, 2), 10);
  EXPECT_EQ(plan(h.step()), (Plan{{"run", 6}, {"chunk", 2}}));
  EXPECT_GT(h.sched.stats().kv_cache_usage, 0.0);
  EXPECT_TRUE(h.sched.abort_request("wait"));   // waiting
  EXPECT_TRUE(h.sched.abort_request("chunk"));  // mid-prefill
  EXPECT_FALSE(h.sched.abort_request("nope"));
  SchedulerOutput s = h.sched.schedule();
  EXPECT_EQ(s.finished_request_ids, (std::vector<RequestId>{"wait", "chunk"}));
  EXPECT_EQ(plan(s), (Plan{{"run", 1}}));
  EXPECT_TRUE(h.sched.abort_request("run"));  // aborted while its step is in flight: the update skips it
  EXPECT_TRUE(h.sched.update_from_output(s, {{42}}).empty());
  EXPECT_FALSE(h.sched.has_unfinished_requests());
  EXPECT_DOUBLE_EQ(h.sched.stats().kv_cache_usage, 0.0);
  EXPECT_EQ(h.sched.kv_cache_manager().num_requests(), 0);
  EXPECT_EQ(h.sched.schedule().finished_request_ids, (std::vector<RequestId>{"run"}));
}

TEST(Scheduler, StopTokenIdsEosMinTokensAndIgnoreEos) {
  const Ids prompt = iota(5, 40);
  const Ids ref = reference_output(prompt, 6);
  Harness h(sched_config(64, 8, 64), kv_config(32));
  StopCriteria stop, eos, min, ignore;
  stop.stop_token_ids = {ref[1]};
  eos.eos_token_ids = {ref[2]};
  min.min_tokens = 4;
  min.eos_token_ids = {ref[2]};
  ignore.eos_token_ids = {ref[0]};
  ignore.ignore_eos = true;
  h.add("stop", prompt, 6, stop);
  h.add("eos", prompt, 6, eos);
  h.add("min", prompt, 6, min);
  h.add("ignore", prompt, 6, ignore);
  h.run_to_completion();
  EXPECT_EQ(h.outputs["stop"], Ids(ref.begin(), ref.begin() + 2));  // the stop id is kept in the ids
  EXPECT_EQ(h.finished["stop"].status, RequestStatus::FinishedStopped);
  EXPECT_EQ(h.finished["stop"].stop_reason, ref[1]);
  EXPECT_EQ(h.outputs["eos"], Ids(ref.begin(), ref.begin() + 3));
  EXPECT_FALSE(h.finished["eos"].stop_reason.has_value());
  EXPECT_EQ(h.outputs["min"], ref);  // eos at output 3 < min_tokens: ignored (assuming it never recurs)
  EXPECT_EQ(h.outputs["ignore"], ref);
  EXPECT_EQ(h.finished["ignore"].status, RequestStatus::FinishedLengthCapped);
}

TEST(Scheduler, MaxModelLenCapsGenerationAndStopStringsFinishThroughFinishRequest) {
  Harness h(sched_config(64, 8, 10), kv_config(32));
  h.add("cap", iota(8), 100);
  h.add("str", iota(3, 9), 100);
  h.step();
  h.step();
  EXPECT_TRUE(h.sched.finish_request("str", RequestStatus::FinishedStopped));  // engine saw a stop string
  EXPECT_EQ(h.finished["cap"].status, RequestStatus::FinishedLengthCapped);    // 8 + 2 = max_model_len
  EXPECT_EQ(h.outputs["cap"].size(), 2u);
  EXPECT_EQ(finish_reason(RequestStatus::FinishedLengthCapped), "length");
  EXPECT_FALSE(h.sched.has_unfinished_requests());
}

TEST(Scheduler, CheckStopAppliesLengthBeforeEos) {
  StopCriteria sc = max_tokens_only(1);
  sc.eos_token_ids = {9};
  Request r("r", {1, 2}, sc);
  r.append_output_token(9);
  EXPECT_TRUE(check_stop(r, 100));
  EXPECT_EQ(r.status, RequestStatus::FinishedLengthCapped);  // vLLM v0.11 order
}

// Many requests with shared prefixes under a tiny KV budget must generate exactly what they generate
// with plenty of room, for every combination of chunked prefill and prefix caching.
TEST(Scheduler, TinyKvBudgetGivesExactlyTheSameTokensAsALargeOne) {
  std::mt19937 rng(1234);
  struct Spec {
    RequestId id;
    Ids prompt;
    int max_tokens;
  };
  std::vector<Spec> specs;
  const Ids system = iota(13, 900);
  for (int i = 0; i < 24; ++i) {
    Ids p = (i % 3 == 0) ? Ids{} : system;
    const int extra = 1 + static_cast<int>(rng() % 20);
    for (int j = 0; j < extra; ++j) p.push_back(static_cast<int32_t>(rng() % 50));
    RequestId id = "r";  // NOTE: not "r" + to_string(i): g++ 12 -O3 raises a false -Wrestrict on that
    id += std::to_string(i);
    specs.push_back({id, p, 1 + static_cast<int>(rng() % 12)});
  }
  for (bool chunked : {true, false})
    for (bool caching : {true, false}) {
      SCOPED_TRACE(testing::Message() << "chunked=" << chunked << " caching=" << caching);
      Harness big(sched_config(64, 16, 48, chunked), kv_config(512, caching));
      Harness tiny(sched_config(48, 6, 48, chunked), kv_config(14, caching));  // 13 usable blocks
      for (size_t i = 0; i < specs.size(); ++i) {
        big.add(specs[i].id, specs[i].prompt, specs[i].max_tokens);
        tiny.add(specs[i].id, specs[i].prompt, specs[i].max_tokens);
        if (i % 4 == 3) {  // arrivals interleaved with steps
          big.step();
          tiny.step();
        }
      }
      big.run_to_completion();
      int max_batch = 0;
      while (tiny.sched.has_unfinished_requests()) {
        const SchedulerOutput s = tiny.step();
        max_batch = std::max(max_batch, static_cast<int>(s.scheduled.size()));
        EXPECT_LE(s.total_num_scheduled_tokens, 48);
      }
      EXPECT_LE(max_batch, 6);
      EXPECT_GT(tiny.sched.stats().num_preemptions, 0);
      for (const Spec& s : specs) {
        EXPECT_EQ(big.outputs[s.id], reference_output(s.prompt, s.max_tokens)) << s.id;
        EXPECT_EQ(tiny.outputs[s.id], big.outputs[s.id]) << s.id;
      }
      EXPECT_DOUBLE_EQ(tiny.sched.stats().kv_cache_usage, 0.0);
      EXPECT_EQ(big.sched.stats().prefix_cache.hits > 0, caching);
    }
}

}  // namespace
}  // namespace serval
