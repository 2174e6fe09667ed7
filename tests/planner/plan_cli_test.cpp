// `serval plan` as a user runs it: the lines it prints are plan_for_model's (the ones `serve` logs),
// JSON output parses, and a budget where nothing fits exits 1 with vLLM's message.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/make_model.h"
#include "planner/device_presets.h"
#include "planner/model_plan.h"
#include "run_command.h"

namespace serval {
namespace {

namespace fs = std::filesystem;

using RunResult = serval::test::CommandResult;

RunResult run_serval(const std::string& args) {
  return serval::test::run_command(std::string(SERVAL_BINARY) + " " + args);
}

const nlohmann::json kQwen15 = {{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"},
                                {"hidden_size", 1536}, {"intermediate_size", 8960}, {"num_hidden_layers", 28},
                                {"num_attention_heads", 12}, {"num_key_value_heads", 2}, {"vocab_size", 151936},
                                {"max_position_embeddings", 32768}, {"tie_word_embeddings", true},
                                {"torch_dtype", "bfloat16"}};

std::string write_config(const std::string& name, const nlohmann::json& j) {
  const fs::path path = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << j.dump();
  return path.string();
}

TEST(PlanCli, PrintsPlanForModelLinesAndTheTable) {
  const std::string cfg = write_config("serval_plan_q15", kQwen15);
  const RunResult r = run_serval("plan --config-json " + cfg + " --device-memory h100-80gb --max-model-len 8K");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  PlanSettings s;
  s.device_memory_bytes = parse_device_memory("h100-80gb");
  s.max_model_len = 8192;
  const ModelConfig config = parse_model_config(kQwen15, "test");
  const ModelPlan plan = plan_for_model(config, DType::BF16, s);
  for (const std::string& line : format_plan_lines(plan)) EXPECT_NE(r.out.find(line + "\n"), std::string::npos) << line;
  EXPECT_NE(r.out.find("Maximum concurrency for 8,192 tokens per request"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("KV bytes per token: 28,672"), std::string::npos) << r.out;
  for (const char* row : {"2,048", "4,096", "8,192", "16,384", "32,768"}) EXPECT_NE(r.out.find(row), std::string::npos);
  for (const char* col : {"util 0.30", "util 0.60", "util 0.90"}) EXPECT_NE(r.out.find(col), std::string::npos);
}

TEST(PlanCli, ModelDirAndJsonOutput) {
  const fs::path dir = fs::temp_directory_path() / ("serval_plan_cli_model_" + std::to_string(::getpid()));
  make_model({.arch = "qwen2", .preset = "tiny", .out_dir = dir.string(), .seed = 3, .dtype = "float32"});
  const RunResult r = run_serval("plan " + dir.string() + " --kv-cache-memory 64MiB --max-model-len 4k --dtype bfloat16 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const ModelConfig config = load_model_config(dir.string());
  EXPECT_EQ(j["dtype"], "bfloat16");
  EXPECT_EQ(j["num_parameters"], count_parameters(config));
  EXPECT_EQ(j["weights_bytes"], count_parameters(config) * 2);
  EXPECT_EQ(j["max_model_len"], 4000);  // vLLM's 4k = 4000
  EXPECT_EQ(j["kv_cache_memory"], 64u << 20);
  EXPECT_EQ(j["table"].size(), 5u);  // an explicit KV budget: one column per max-model-len
  EXPECT_TRUE(j["fits_one_request"].get<bool>());
  fs::remove_all(dir);
}

TEST(PlanCli, NothingFitsExitsOneWithVllmsMessage) {
  const std::string cfg = write_config("serval_plan_q15_nofit", kQwen15);
  RunResult r = run_serval("plan --config-json " + cfg + " --kv-cache-memory 100MiB --max-model-len 32768");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("error: To serve at least one request with the model's max seq len (32768)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("estimated maximum model length is 3648"), std::string::npos) << r.out;  // 228 blocks x 16
  r = run_serval("plan --config-json " + cfg + " --device-memory t4 --gpu-memory-utilization 0.1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("error: No available memory for the cache blocks"), std::string::npos) << r.out;
}

TEST(PlanCli, BadInputIsOneLineNamingTheProblem) {
  const std::string cfg = write_config("serval_plan_q15_bad", kQwen15);
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : {Case{"plan --device-memory 16GiB", "MODEL_DIR or --config-json"},
                        Case{"plan --config-json " + cfg, "--device-memory"},
                        Case{"plan --config-json " + cfg + " --device-memory h800", "h100-80gb"},
                        Case{"plan --config-json " + cfg + " --device-memory 16GiB --max-model-len 64k", "max_model_len (64000)"},
                        Case{"plan --config-json " + cfg + " --device-memory 16GiB --dtype int4", "int4"},
                        Case{"plan --config-json " + cfg + " --device-memory 16GiB --gpu-memory-utilization 2", "--gpu-memory-utilization"},
                        Case{"plan --config-json /nonexistent.json --device-memory 16GiB", "/nonexistent.json"}}) {
    const RunResult r = run_serval(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace serval
