// plan_for_model: parameter counts match published figures and Model::weight_bytes() after a real
// load, the capacity numbers are plan_capacity's, the table moves the right way, presets parse.
#include "planner/model_plan.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "model/make_model.h"
#include "model/model.h"
#include "planner/device_presets.h"

namespace serval {
namespace {

namespace fs = std::filesystem;

ModelConfig qwen25_15b_config() {
  const nlohmann::json j = {{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"},
                            {"hidden_size", 1536}, {"intermediate_size", 8960}, {"num_hidden_layers", 28},
                            {"num_attention_heads", 12}, {"num_key_value_heads", 2}, {"vocab_size", 151936},
                            {"max_position_embeddings", 32768}, {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0},
                            {"tie_word_embeddings", true}, {"torch_dtype", "bfloat16"}};
  return parse_model_config(j, "qwen2.5-1.5b config");
}

TEST(ModelPlan, ParameterCountMatchesPublishedQwen25) {
  const ModelConfig c = qwen25_15b_config();
  EXPECT_EQ(count_parameters(c), 1543714304);  // Qwen2.5-1.5B-Instruct's model card / safetensors total
  EXPECT_EQ(plan_dtype(c, "auto"), DType::BF16);
  EXPECT_EQ(plan_dtype(c, "float32"), DType::F32);
  EXPECT_THROW(plan_dtype(c, "int3"), Error);
}

// The planner's weights number is what the loader reports, for both architectures, tied and untied,
// in the checkpoint's dtype and converted.
TEST(ModelPlan, WeightsEqualModelWeightBytesAfterLoad) {
  for (const char* arch : {"qwen2", "llama"}) {
    for (const char* dtype : {"bfloat16", "float32"}) {
      const fs::path dir = fs::temp_directory_path() / (std::string("serval_plan_") + arch + "_" + dtype + "_" +
                                                        std::to_string(::getpid()));
      make_model({.arch = arch, .preset = "tiny", .out_dir = dir.string(), .seed = 1, .dtype = dtype});
      for (const char* requested : {"auto", "float16", "float32"}) {
        const std::unique_ptr<Model> model = Model::load(dir.string(), {.dtype = requested});
        const DType d = plan_dtype(model->config(), requested);
        EXPECT_EQ(d, model->dtype()) << arch << " " << dtype << " " << requested;
        PlanSettings s;
        s.kv_cache_memory = size_t{1} << 20;
        s.max_model_len = 64;
        const ModelPlan plan = plan_for_model(model->config(), d, s);
        EXPECT_EQ(plan.weights_bytes, model->weight_bytes()) << arch << " " << dtype << " " << requested;
        EXPECT_EQ(plan.kv.num_kv_heads, model->kv_cache_shape(1, 16).num_kv_heads);
        EXPECT_EQ(plan.kv.head_dim, model->kv_cache_shape(1, 16).head_dim);
      }
      fs::remove_all(dir);
    }
  }
}

TEST(ModelPlan, CapacityIsPlanCapacityOverTheModelsLayoutAndBudget) {
  const ModelConfig c = qwen25_15b_config();
  PlanSettings s;
  s.device_memory_bytes = parse_device_memory("h100-80gb");
  s.gpu_memory_utilization = 0.9;
  s.max_model_len = 32768;
  const ModelPlan p = plan_for_model(c, DType::BF16, s);
  EXPECT_EQ(p.weights_bytes, 1543714304u * 2);
  EXPECT_EQ(p.capacity.bytes_per_token, 28u * 1024);  // 2 x 28 layers x 2 KV heads x 128 x 2 bytes
  CapacityInputs in;
  in.device_memory_bytes = s.device_memory_bytes;
  in.gpu_memory_utilization = 0.9;
  in.weights_bytes = p.weights_bytes;
  in.activation_bytes = estimate_activation_bytes(c, 2048, 256);
  in.block_size = 16;
  in.max_model_len = 32768;
  const CapacityPlan expected = plan_capacity(KvLayout{28, 2, 128, 2, {}}, in);
  EXPECT_EQ(p.capacity.kv_tokens, expected.kv_tokens);
  EXPECT_DOUBLE_EQ(p.capacity.max_concurrency, expected.max_concurrency);
  // About 2.5 M tokens and ~76x at 32k on an H100 (docs/reference's worked estimate).
  EXPECT_GT(p.capacity.kv_tokens, 2'300'000);
  EXPECT_LT(p.capacity.kv_tokens, 2'700'000);
  const std::vector<std::string> lines = format_plan_lines(p);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[lines.size() - 2], format_kv_cache_size_line(p.capacity));
  EXPECT_EQ(lines.back(), format_max_concurrency_line(p.capacity, 32768));
  EXPECT_NE(lines[0].find("1,543,714,304 parameters, bfloat16"), std::string::npos) << lines[0];
}

TEST(ModelPlan, MaxModelLenDefaultsToTheModelsAndIsBoundedByIt) {
  const ModelConfig c = qwen25_15b_config();
  PlanSettings s;
  s.kv_cache_memory = size_t{4} << 30;
  EXPECT_EQ(plan_for_model(c, DType::BF16, s).max_model_len, 32768);
  EXPECT_NO_THROW(check_max_model_len(c, 32768));
  EXPECT_THROW(check_max_model_len(c, 32769), Error);
  s.block_size = 0;
  EXPECT_THROW(plan_for_model(c, DType::BF16, s), Error);
  s = PlanSettings{};
  EXPECT_THROW(plan_for_model(c, DType::BF16, s), Error);  // no memory given at all
  s.device_memory_bytes = size_t{16} << 30;
  s.gpu_memory_utilization = 1.5;
  EXPECT_THROW(plan_for_model(c, DType::BF16, s), Error);
}

TEST(ModelPlan, TableTradesContextForConcurrency) {
  const ModelConfig c = qwen25_15b_config();
  PlanSettings s;
  s.device_memory_bytes = parse_device_memory("16GiB");
  const std::vector<int> lens = {2048, 4096, 8192, 16384, 32768, 65536};
  const std::vector<double> utils = {0.3, 0.6, 0.9};
  const std::vector<PlanTableCell> t = plan_table(c, DType::BF16, s, lens, utils);
  ASSERT_EQ(t.size(), lens.size() * utils.size());
  for (size_t r = 0; r < lens.size(); ++r) {
    for (size_t u = 0; u < utils.size(); ++u) {
      const PlanTableCell& cell = t[r * utils.size() + u];
      EXPECT_EQ(cell.max_model_len, lens[r]);
      EXPECT_DOUBLE_EQ(cell.gpu_memory_utilization, utils[u]);
      EXPECT_EQ(cell.beyond_model_max, lens[r] > 32768);
      if (u > 0) {
        EXPECT_GT(cell.capacity.max_concurrency, t[r * utils.size() + u - 1].capacity.max_concurrency);
      }
      if (r > 0) {
        EXPECT_LT(cell.capacity.max_concurrency, t[(r - 1) * utils.size() + u].capacity.max_concurrency);
      }
    }
  }
  // 30% of 16 GiB = 4.8 GiB minus 2.9 GiB of weights and the activations: small but positive.
  EXPECT_TRUE(t[0].capacity.fits_one_request);
  // An explicit KV budget makes the table one column.
  s.kv_cache_memory = size_t{1} << 30;
  EXPECT_EQ(plan_table(c, DType::BF16, s, lens, utils).size(), lens.size());
}

TEST(ModelPlan, NothingFitsIsReportedNotThrown) {
  const ModelConfig c = qwen25_15b_config();
  PlanSettings s;
  s.device_memory_bytes = parse_device_memory("t4");
  s.gpu_memory_utilization = 0.2;  // 3 GiB: less than the 2.9 GiB of weights plus activations
  s.max_model_len = 4096;
  const ModelPlan p = plan_for_model(c, DType::BF16, s);
  EXPECT_FALSE(p.capacity.fits_one_request);
  EXPECT_NE(format_does_not_fit_message(p.capacity, 4096).find("No available memory"), std::string::npos);
}

TEST(ModelPlan, SlidingWindowLayersAreCarriedInTheLayout) {
  ModelConfig c = qwen25_15b_config();
  EXPECT_TRUE(kv_layout_for_model(c, DType::BF16).layer_window.empty());
  c.sliding_window[27] = 4096;
  const KvLayout kv = kv_layout_for_model(c, DType::F16);
  ASSERT_EQ(kv.layer_window.size(), 28u);
  EXPECT_EQ(kv.layer_window[27], 4096);
  EXPECT_EQ(kv.dtype_bytes, 2u);
}

TEST(DevicePresets, NamesAndSizesParse) {
  EXPECT_EQ(parse_device_memory("h100-80gb"), size_t{81559} << 20);
  EXPECT_EQ(parse_device_memory("A100-40GB"), size_t{40960} << 20);
  EXPECT_EQ(parse_device_memory("l4"), size_t{23034} << 20);
  EXPECT_EQ(parse_device_memory("t4"), size_t{15360} << 20);
  EXPECT_EQ(parse_device_memory("rtx-16gb"), size_t{16376} << 20);
  EXPECT_EQ(parse_device_memory("16GiB"), size_t{16} << 30);
  try {
    parse_device_memory("h800");
    FAIL() << "expected serval::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h100-80gb"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace serval
