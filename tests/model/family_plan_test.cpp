// What `serval plan` and `serval serve` compute for the four models operators compare, from make-model's
// real-shape preset configs: KV bytes per token in BF16 (Qwen2.5-1.5B 28 KiB, Phi-3-mini 384 KiB, phi-2
// 320 KiB, gemma-2-2b 104 KiB with half its layers windowed), and the planner's parameter count equal to
// what the loader holds for each family's tiny checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/make_model.h"
#include "model/model.h"
#include "planner/capacity.h"
#include "planner/model_plan.h"

namespace serval {
namespace {

namespace fs = std::filesystem;

ModelConfig preset_config(const std::string& arch, const std::string& preset) {
  return parse_model_config(nlohmann::json::parse(make_model_config_json(arch, preset, "bfloat16")), arch + "/" + preset);
}

TEST(FamilyPlan, KvBytesPerTokenOfTheRealShapePresets) {
  EXPECT_EQ(kv_bytes_per_token(kv_layout_for_model(preset_config("qwen2", "qwen2.5-1.5b"), DType::BF16)), 28u * 1024);
  EXPECT_EQ(kv_bytes_per_token(kv_layout_for_model(preset_config("phi3", "phi-3-mini-4k"), DType::BF16)), 384u * 1024);
  EXPECT_EQ(kv_bytes_per_token(kv_layout_for_model(preset_config("phi2", "phi-2"), DType::BF16)), 320u * 1024);
  const KvLayout gemma = kv_layout_for_model(preset_config("gemma2", "gemma-2-2b"), DType::BF16);
  EXPECT_EQ(kv_bytes_per_token(gemma), 104u * 1024);
  ASSERT_EQ(gemma.layer_window.size(), 26u);
  int windowed = 0;
  for (size_t l = 0; l < gemma.layer_window.size(); ++l) {
    EXPECT_EQ(gemma.layer_window[l], l % 2 == 0 ? 4096 : 0) << "layer " << l;
    windowed += gemma.layer_window[l] > 0;
  }
  EXPECT_EQ(windowed, 13);
  // Phi-3-mini-4k slides every layer over 2047 tokens (its config's sliding_window).
  const KvLayout phi3 = kv_layout_for_model(preset_config("phi3", "phi-3-mini-4k"), DType::BF16);
  EXPECT_EQ(phi3.layer_window, std::vector<int>(32, 2047));
  EXPECT_TRUE(kv_layout_for_model(preset_config("phi2", "phi-2"), DType::BF16).layer_window.empty());
}

class FamilyPlanWeights : public ::testing::TestWithParam<const char*> {};

TEST_P(FamilyPlanWeights, PlannedWeightsEqualWhatTheLoaderHolds) {
  const fs::path dir = fs::temp_directory_path() / ("serval_famplan_" + std::string(GetParam()) + "_" +
                                                    std::to_string(::getpid()));
  make_model({GetParam(), "tiny", dir.string(), 1, "bfloat16"});
  auto m = Model::load(dir.string());
  EXPECT_EQ(static_cast<size_t>(count_parameters(m->config())) * 2, m->weight_bytes());
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Tiny, FamilyPlanWeights, ::testing::Values("phi3", "gemma2", "phi2"));

}  // namespace
}  // namespace serval
