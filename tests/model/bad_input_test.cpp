// Bad checkpoints and configs: each must fail with a serval::Error that names the problem (file, tensor,
// key, value), never crash or load something wrong. Also sharded checkpoints (index.json) load correctly.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/make_model.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "model/safetensors.h"

namespace serval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A tensor to write: raw bytes with a declared tag and shape (declared offsets may be overridden).
struct RawTensor {
  std::string name, tag;
  std::vector<int64_t> shape;
  std::string bytes;
};

// Builds a safetensors image; `edit` may rewrite the header JSON before it is serialized.
std::string build(const std::vector<RawTensor>& ts, const std::function<void(json&)>& edit = {}) {
  json h = json::object();
  std::string data;
  for (const auto& t : ts) {
    h[t.name] = {{"dtype", t.tag}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  if (edit) edit(h);
  const std::string text = h.dump();
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text + data;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string parse_error(const std::string& img) {
  return error_of([&] {
    parse_safetensors(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "buf.safetensors");
  });
}

const RawTensor kA{"a", "F32", {2, 2}, std::string(16, '\1')};
const RawTensor kB{"b", "BF16", {3}, std::string(6, '\2')};

TEST(SafetensorsParse, ValidImageGivesViews) {
  const std::string img = build({kA, kB}, [](json& h) { h["__metadata__"] = {{"format", "pt"}}; });
  const auto v = parse_safetensors(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "buf");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "a");
  EXPECT_EQ(v[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(v[0].dtype(), DType::F32);
  EXPECT_EQ(v[1].dtype(), DType::BF16);
  EXPECT_EQ(v[1].data[0], 2);
}

TEST(SafetensorsParse, RejectsStructuralProblemsNamingThem) {
  EXPECT_NE(parse_error("abc").find("truncated"), std::string::npos);
  std::string img = build({kA});
  img[0] = '\x7f';  // header length far beyond the file
  EXPECT_NE(parse_error(img).find("declares a"), std::string::npos);
  std::string bad_json = build({kA});
  bad_json[9] = '[';
  bad_json[10] = '}';
  EXPECT_NE(parse_error(bad_json).find("malformed JSON"), std::string::npos);
  EXPECT_NE(parse_error(build({{"w", "F33", {1}, "abcd"}})).find("unknown dtype 'F33'"), std::string::npos);
  const std::string lies = build({kA}, [](json& h) { h["a"]["shape"] = {3, 2}; });
  EXPECT_NE(parse_error(lies).find("lies about sizes"), std::string::npos);
  EXPECT_NE(parse_error(lies).find("'a'"), std::string::npos);
  const std::string outside = build({kA}, [](json& h) { h["a"]["data_offsets"] = {16, 32}; });
  EXPECT_NE(parse_error(outside).find("outside"), std::string::npos);
  const std::string overlap = build({kA, {"c", "F32", {2}, std::string(8, '\3')}},
                                    [](json& h) { h["c"]["data_offsets"] = {4, 12}; });
  EXPECT_NE(parse_error(overlap).find("overlap"), std::string::npos);
  std::string truncated = build({kA, kB});
  truncated.resize(truncated.size() - 3);
  EXPECT_NE(parse_error(truncated).find("'b'"), std::string::npos);
  const std::string neg = build({kA}, [](json& h) { h["a"]["shape"] = {-2, -2}; });
  EXPECT_NE(parse_error(neg).find("negative"), std::string::npos);
}

TEST(SafetensorsParse, IntegerTensorErrorsOnlyWhenUsedAsWeights) {
  const std::string img = build({{"ids", "I64", {2}, std::string(16, '\0')}});
  const auto v = parse_safetensors(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "buf");
  ASSERT_EQ(v.size(), 1u);
  const std::string msg = error_of([&] { (void)v[0].dtype(); });
  EXPECT_NE(msg.find("I64"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'ids'"), std::string::npos) << msg;
}

class BadCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("serval_bad_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    make_model({"qwen2", "tiny", dir_.string(), 11, "float32"});
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string load_error() { return error_of([&] { Model::load(dir_.string()); }); }
  void edit_config(const std::function<void(json&)>& fn) {
    json c = json::parse(read_text_file((dir_ / "config.json").string()));
    fn(c);
    std::ofstream(dir_ / "config.json") << c.dump();
  }
  // Rewrites model.safetensors through `fn` over its tensors.
  void edit_tensors(const std::function<void(std::vector<RawTensor>&)>& fn) {
    std::vector<RawTensor> ts;
    {
      MappedFile f((dir_ / "model.safetensors").string());
      for (const auto& t : parse_safetensors(f.data(), f.size(), "x"))
        ts.push_back({t.name, t.dtype_tag, t.shape, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)});
    }
    fn(ts);
    std::ofstream(dir_ / "model.safetensors", std::ios::binary) << build(ts);
  }
  fs::path dir_;
};

TEST_F(BadCheckpoint, MissingFilesAreNamed) {
  fs::remove(dir_ / "model.safetensors");
  EXPECT_NE(load_error().find("model.safetensors"), std::string::npos) << load_error();
  fs::remove(dir_ / "config.json");
  EXPECT_NE(load_error().find((dir_ / "config.json").string()), std::string::npos) << load_error();
}

TEST_F(BadCheckpoint, TruncatedFile) {
  fs::resize_file(dir_ / "model.safetensors", fs::file_size(dir_ / "model.safetensors") / 2);
  const std::string msg = load_error();
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
}

TEST_F(BadCheckpoint, UnsupportedArchitectureListsSupported) {
  edit_config([](json& c) { c["architectures"] = {"MistralForCausalLM"}; });
  const std::string msg = load_error();
  EXPECT_NE(msg.find("'MistralForCausalLM'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Qwen2ForCausalLM"), std::string::npos) << msg;
  EXPECT_NE(msg.find("LlamaForCausalLM"), std::string::npos) << msg;
  for (const char* arch : {"Phi3ForCausalLM", "Gemma2ForCausalLM", "PhiForCausalLM"})
    EXPECT_NE(msg.find(arch), std::string::npos) << msg;
}

TEST_F(BadCheckpoint, UnsupportedConfigValuesAreNamed) {
  edit_config([](json& c) { c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; });
  EXPECT_NE(load_error().find("'yarn'"), std::string::npos) << load_error();
  EXPECT_NE(load_error().find("llama3"), std::string::npos) << load_error();
  EXPECT_NE(load_error().find("longrope"), std::string::npos) << load_error();
  edit_config([](json& c) { c.erase("rope_scaling"); c["hidden_act"] = "relu2"; });
  EXPECT_NE(load_error().find("'relu2'"), std::string::npos) << load_error();
  EXPECT_NE(load_error().find("gelu_pytorch_tanh"), std::string::npos) << load_error();
  edit_config([](json& c) {  // longrope lists must have rotary_dim / 2 entries
    c["hidden_act"] = "silu";
    c["rope_scaling"] = {{"rope_type", "longrope"}, {"short_factor", {1.0, 1.0}}, {"long_factor", {2.0, 2.0}}};
  });
  EXPECT_NE(load_error().find("short_factor has 2 entries"), std::string::npos) << load_error();
  edit_config([](json& c) { c.erase("rope_scaling"); });
  edit_config([](json& c) { c["hidden_act"] = "silu"; c.erase("hidden_size"); });
  EXPECT_NE(load_error().find("'hidden_size'"), std::string::npos) << load_error();
  edit_config([](json& c) { c["hidden_size"] = "64"; });
  EXPECT_NE(load_error().find("'hidden_size' must be a positive integer"), std::string::npos) << load_error();
  std::ofstream(dir_ / "config.json") << "{ not json";
  EXPECT_NE(load_error().find("malformed JSON"), std::string::npos) << load_error();
}

TEST_F(BadCheckpoint, ShapeMismatchNamesTensorAndBothShapes) {
  edit_tensors([](std::vector<RawTensor>& ts) {
    for (auto& t : ts)
      if (t.name == "model.layers.1.self_attn.q_proj.weight") t.shape = {32, 128};
  });
  const std::string msg = load_error();
  EXPECT_NE(msg.find("'model.layers.1.self_attn.q_proj.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[32, 128]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 64]"), std::string::npos) << msg;
}

TEST_F(BadCheckpoint, MissingTensorIsNamed) {
  edit_tensors([](std::vector<RawTensor>& ts) {
    std::erase_if(ts, [](const RawTensor& t) { return t.name == "model.layers.0.self_attn.k_proj.bias"; });
  });
  EXPECT_NE(load_error().find("'model.layers.0.self_attn.k_proj.bias'"), std::string::npos) << load_error();
}

TEST_F(BadCheckpoint, ShardedCheckpointLoadsLikeSingleFileAndNamesMissingShard) {
  LoadOptions o;
  o.dtype = "float32";
  const std::vector<float> single = test::run_prompt(*Model::load(dir_.string(), o), {5, 6, 7});
  std::vector<RawTensor> all;
  {
    MappedFile f((dir_ / "model.safetensors").string());
    for (const auto& t : parse_safetensors(f.data(), f.size(), "x"))
      all.push_back({t.name, t.dtype_tag, t.shape, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)});
  }
  fs::remove(dir_ / "model.safetensors");
  std::vector<RawTensor> s1(all.begin(), all.begin() + static_cast<long>(all.size() / 2)),
      s2(all.begin() + static_cast<long>(all.size() / 2), all.end());
  std::ofstream(dir_ / "model-00001-of-00002.safetensors", std::ios::binary) << build(s1);
  std::ofstream(dir_ / "model-00002-of-00002.safetensors", std::ios::binary) << build(s2);
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  for (const auto& t : s1) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
  for (const auto& t : s2) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
  std::ofstream(dir_ / "model.safetensors.index.json") << index.dump();
  EXPECT_EQ(test::run_prompt(*Model::load(dir_.string(), o), {5, 6, 7}), single);

  fs::remove(dir_ / "model-00002-of-00002.safetensors");
  EXPECT_NE(load_error().find("model-00002-of-00002.safetensors"), std::string::npos) << load_error();
}

TEST(GenerationConfig, EosIntOrListAndBadValues) {
  const auto g = parse_generation_config(json{{"eos_token_id", 7}, {"top_k", 20}, {"temperature", 0.7}}, "g");
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{7}));
  EXPECT_EQ(g.top_k, 20);
  EXPECT_FALSE(g.top_p.has_value());
  EXPECT_EQ(parse_generation_config(json{{"eos_token_id", {1, 2}}}, "g").eos_token_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_NE(error_of([] { parse_generation_config(json{{"top_p", "x"}}, "gen.json"); }).find("'top_p'"),
            std::string::npos);
  EXPECT_FALSE(load_generation_config("/nonexistent-dir").present);
}

}  // namespace
}  // namespace serval
