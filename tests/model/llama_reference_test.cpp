// The Llama path checked against an independent float64 numpy implementation of transformers' forward
// (tests/model/reference/hf_forward.py) on a make-model checkpoint with llama3 RoPE scaling and GQA 4:1;
// and the script itself checked against llama.cpp's goldens on qwen2-tiny.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "model/make_model.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "test_paths.h"

namespace serval {
namespace {

namespace fs = std::filesystem;

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }
std::string script() { return test::source_dir() + "/tests/model/reference/hf_forward.py"; }

// Runs the reference on ids; returns [n, vocab] logits.
std::vector<float> reference_logits(const std::string& model_dir, const std::vector<int32_t>& ids,
                                    const std::string& out) {
  std::string list;
  for (int32_t id : ids) {
    if (!list.empty()) list += ',';
    list += std::to_string(id);
  }
  const std::string cmd = python() + " " + script() + " " + model_dir + " --ids " + list + " --out " + out;
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd << " failed (needs python3 with numpy: scripts/install-deps.sh)";
  return rc == 0 ? test::read_f32_file(out) : std::vector<float>{};
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("serval_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

TEST(LlamaReference, AllPositionLogitsMatchIndependentFloat64Reference) {
  const fs::path dir = temp_dir("llama_ref");
  make_model({"llama", "tiny", dir.string(), 1234, "float32"});
  LoadOptions o;
  o.dtype = "float32";
  auto m = Model::load(dir.string(), o);
  const ModelConfig& c = m->config();
  ASSERT_EQ(c.rope_scaling, RopeScalingKind::Llama3);
  ASSERT_EQ(c.num_queries_per_kv(), 4);
  ASSERT_FALSE(c.tie_word_embeddings);

  // 45 positions: past the llama3 smoothing band of the tiny preset (original context 64 / high factor 4).
  std::mt19937 rng(5);
  std::vector<int32_t> ids(45);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % 128000);
  const std::vector<float> ref = reference_logits(dir.string(), ids, (dir / "ref.f32").string());
  const std::vector<float> got = test::run_prompt(*m, ids, /*all_positions=*/true);
  ASSERT_EQ(got.size(), ref.size());
  EXPECT_LT(test::max_abs_diff(got.data(), ref.data(), ref.size()), 1e-4f);
  fs::remove_all(dir);
}

TEST(LlamaReference, ReferenceScriptMatchesLlamaCppOnQwen2Tiny) {
  SERVAL_REQUIRE_GOLDEN();
  const std::string g = test::golden_dir() + "/qwen2-tiny/";
  std::ifstream f(g + "p2_fox.json");
  const auto ids = nlohmann::json::parse(f)["prompt_ids"].get<std::vector<int32_t>>();
  const fs::path dir = temp_dir("qwen_ref");
  const std::vector<float> ref = reference_logits(test::golden_dir() + "/models/qwen2-tiny", ids,
                                                  (dir / "ref.f32").string());
  const std::vector<float> golden = test::read_f32_file(g + "p2_fox.allpos.f32");
  ASSERT_EQ(ref.size(), golden.size());
  EXPECT_LT(test::max_abs_diff(ref.data(), golden.data(), ref.size()), 1e-5f);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace serval
