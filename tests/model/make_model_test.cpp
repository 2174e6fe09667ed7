// make-model: every preset's files are complete and loadable, weights are deterministic per seed,
// dtype conversion at load time, and the derived Llama-3 tokenizer's shape.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/make_model.h"
#include "model/model.h"
#include "model/model_test_util.h"

namespace serval {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("serval_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_text_file(p.string())); }

TEST(MakeModel, QwenTinyIsCompleteAndRuns) {
  const fs::path dir = temp_dir("mk_qwen");
  make_model({"qwen2", "tiny", dir.string(), 7, "bfloat16"});
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  EXPECT_EQ(read_json(dir / "config.json")["torch_dtype"], "bfloat16");
  EXPECT_TRUE(read_json(dir / "tokenizer_config.json").contains("chat_template"));
  auto m = Model::load(dir.string());  // auto: bf16 checkpoint -> bf16
  EXPECT_EQ(m->dtype(), DType::BF16);
  EXPECT_EQ(m->generation_config().eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  const std::vector<float> logits = test::run_prompt(*m, {1, 2, 3, 4, 5});
  ASSERT_EQ(logits.size(), 151936u);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  fs::remove_all(dir);
}

TEST(MakeModel, SameSeedSameBytesOtherSeedDifferent) {
  const fs::path a = temp_dir("mk_a"), b = temp_dir("mk_b"), c = temp_dir("mk_c");
  make_model({"qwen2", "tiny", a.string(), 1, "bfloat16"});
  make_model({"qwen2", "tiny", b.string(), 1, "bfloat16"});
  make_model({"qwen2", "tiny", c.string(), 2, "bfloat16"});
  const std::string fa = read_text_file((a / "model.safetensors").string());
  EXPECT_EQ(fa, read_text_file((b / "model.safetensors").string()));
  EXPECT_NE(fa, read_text_file((c / "model.safetensors").string()));
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

TEST(MakeModel, Float32CheckpointLoadsAsFloat16ByDefaultAndConvertsOnce) {
  const fs::path dir = temp_dir("mk_f32");
  make_model({"llama", "tiny", dir.string(), 3, "float32"});
  auto f16 = Model::load(dir.string());  // vLLM auto: float32 checkpoint -> float16
  EXPECT_EQ(f16->dtype(), DType::F16);
  EXPECT_EQ(f16->kv_cache_shape(4, 16).dtype, DType::F16);
  LoadOptions o;
  o.dtype = "float32";
  auto f32 = Model::load(dir.string(), o);
  EXPECT_EQ(f16->weight_bytes() * 2, f32->weight_bytes());
  const std::vector<int32_t> ids = {10, 20, 30, 40, 50, 60, 70};
  const std::vector<float> a = test::run_prompt(*f16, ids), b = test::run_prompt(*f32, ids);
  EXPECT_LT(test::max_abs_diff(a.data(), b.data(), a.size()), 2e-2f);  // fp16: 11-bit mantissa
  fs::remove_all(dir);
}

TEST(MakeModel, LlamaTokenizerHasLlama3Layout) {
  const fs::path dir = temp_dir("mk_tok");
  make_model({"llama", "tiny", dir.string(), 0, "bfloat16"});
  const auto tok = read_json(dir / "tokenizer.json");
  EXPECT_EQ(tok["model"]["vocab"].size(), 128000u);
  ASSERT_EQ(tok["added_tokens"].size(), 256u);
  EXPECT_EQ(tok["added_tokens"][0]["content"], "<|begin_of_text|>");
  EXPECT_EQ(tok["added_tokens"][9]["content"], "<|eot_id|>");
  EXPECT_EQ(tok["added_tokens"][6]["content"], "<|start_header_id|>");
  EXPECT_GT(tok["model"]["merges"].size(), 100000u);
  const auto cfg = read_json(dir / "tokenizer_config.json");
  EXPECT_NE(cfg["chat_template"].get<std::string>().find("<|start_header_id|>"), std::string::npos);
  EXPECT_EQ(read_json(dir / "config.json")["vocab_size"], 128256);
  fs::remove_all(dir);
}

// Each new family's tiny preset: complete directory with its family's tokenizer and generation config,
// loads in the checkpoint's dtype and generates.
struct FamilyPreset {
  const char* arch;
  const char* architecture;
  std::vector<int64_t> eos;
  size_t tokenizer_vocab;  // entries of tokenizer.json's model.vocab
  bool has_chat_template;
};

class MakeFamilyModel : public ::testing::TestWithParam<FamilyPreset> {};

TEST_P(MakeFamilyModel, TinyIsCompleteAndGenerates) {
  const FamilyPreset& f = GetParam();
  const fs::path dir = temp_dir(std::string("mk_") + f.arch);
  make_model({f.arch, "tiny", dir.string(), 5, "bfloat16"});
  EXPECT_EQ(read_json(dir / "config.json")["architectures"][0], f.architecture);
  EXPECT_EQ(read_json(dir / "tokenizer.json")["model"]["vocab"].size(), f.tokenizer_vocab);
  EXPECT_EQ(read_json(dir / "tokenizer_config.json").contains("chat_template"), f.has_chat_template);
  auto m = Model::load(dir.string());
  EXPECT_EQ(m->dtype(), DType::BF16);
  EXPECT_EQ(m->generation_config().eos_token_ids, f.eos);
  const std::vector<int32_t> out = test::greedy_ids(*m, {2, 450, 4996, 17354, 1701}, 8);
  ASSERT_EQ(out.size(), 8u);
  for (int32_t id : out) EXPECT_LT(id, m->config().vocab_size);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Families, MakeFamilyModel,
                         ::testing::Values(FamilyPreset{"phi3", "Phi3ForCausalLM", {32000, 32001, 32007}, 32000, true},
                                           FamilyPreset{"gemma2", "Gemma2ForCausalLM", {1, 106}, 262144, true},
                                           FamilyPreset{"phi2", "PhiForCausalLM", {50256}, 50257, false}),
                         [](const ::testing::TestParamInfo<FamilyPreset>& i) { return std::string(i.param.arch); });

TEST(MakeModel, RealShapePresetConfigsLoad) {
  struct Case {
    const char* arch;
    const char* preset;
    int layers, kv_heads, head_dim;
  };
  for (const Case& k : {Case{"phi3", "phi-3-mini-4k", 32, 32, 96}, Case{"gemma2", "gemma-2-2b", 26, 4, 256},
                        Case{"phi2", "phi-2", 32, 32, 80}}) {
    const ModelConfig c =
        parse_model_config(nlohmann::json::parse(make_model_config_json(k.arch, k.preset, "bfloat16")), k.preset);
    EXPECT_EQ(c.num_hidden_layers, k.layers) << k.preset;
    EXPECT_EQ(c.num_key_value_heads, k.kv_heads) << k.preset;
    EXPECT_EQ(c.head_dim, k.head_dim) << k.preset;
    EXPECT_EQ(c.torch_dtype, "bfloat16") << k.preset;
  }
}

TEST(MakeModel, RejectsUnknownPresetListingSupported) {
  try {
    make_model({"llama", "qwen2.5-0.5b", "/tmp/x", 0, "bfloat16"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("llama/llama-3.2-1b"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gemma2/gemma-2-2b"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_model({"qwen2", "tiny", "/tmp/x", 0, "float8"}), Error);
}

}  // namespace
}  // namespace serval
