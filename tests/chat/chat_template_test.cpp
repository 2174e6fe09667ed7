// ChatTemplate's API: the variables transformers passes, loading from a model folder, key order,
// the strftime_now clock, and the real golden-model templates.
#include "chat/chat_template.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "test_paths.h"

namespace serval {
namespace {

using nlohmann::ordered_json;

ordered_json user(const std::string& text) {
  return ordered_json::array({{{"role", "user"}, {"content", text}}});
}

TEST(ChatTemplate, ToolsNullIsNoneAndDefinedLikeTransformers) {
  ChatTemplate t(
      "{{ tools is defined }}/{{ tools is none }}/{% if tools %}T{% else %}F{% endif %}/{{ documents is none "
      "}}");
  EXPECT_EQ(t.render(user("x"), ordered_json(nullptr), false), "True/True/F/True");
  EXPECT_EQ(t.render(user("x"), ordered_json::array(), false), "True/False/F/True");
  EXPECT_EQ(t.render(user("x"), ordered_json::array({{{"type", "function"}}}), false), "True/False/T/True");
}

TEST(ChatTemplate, PassesGenerationPromptTokensAndExtraContext) {
  ChatTemplate t(
      "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ enable_thinking }}|{{ "
      "messages[0].content }}",
      "<s>", "</s>");
  EXPECT_EQ(t.render(user("hi"), ordered_json(nullptr), true, {{"enable_thinking", false}}),
            "<s>|</s>|True|False|hi");
  // An unset special token is undefined (transformers leaves it out of the context).
  ChatTemplate no_bos("{{ bos_token is defined }}{{ eos_token is defined }}", "", "<|im_end|>");
  EXPECT_EQ(no_bos.render(user("x"), ordered_json(nullptr), false), "FalseTrue");
  // extra_context may override the standard variables, as template kwargs do in transformers.
  EXPECT_EQ(t.render(user("hi"), ordered_json(nullptr), false, {{"bos_token", "B"}, {"enable_thinking", 1}}),
            "B|</s>|False|1|hi");
}

TEST(ChatTemplate, TojsonKeepsTheRequestKeyOrder) {
  ChatTemplate t("{{ tools[0] | tojson }}");
  ordered_json tools =
      ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "description": "d"}}])");
  EXPECT_EQ(t.render(user("x"), tools, false),
            R"({"type": "function", "function": {"name": "f", "description": "d"}})");
  // nlohmann::json sorts keys; the overload still renders (sorted).
  nlohmann::json sorted_tools = nlohmann::json::parse(tools.dump());
  EXPECT_EQ(t.render(nlohmann::json::parse(user("x").dump()), sorted_tools, false),
            R"({"function": {"description": "d", "name": "f"}, "type": "function"})");
}

TEST(ChatTemplate, DeeplyNestedInputIsAnError) {
  ordered_json deep = "x";
  for (int i = 0; i < 300; ++i) deep = ordered_json::array({deep});  // the limit is 256 levels
  ChatTemplate t("{{ messages | length }}");
  ordered_json msgs = ordered_json::array({{{"role", "user"}, {"content", deep}}});
  EXPECT_THROW(t.render(msgs, ordered_json(nullptr), false), Error);
}

TEST(ChatTemplate, StrftimeNowReadsTheInjectedClock) {
  ChatTemplate t("{{ strftime_now('%d %b %Y') }}");
  t.set_clock([] { return static_cast<std::time_t>(1721995200); });  // 2024-07-26 12:00 UTC
  EXPECT_EQ(t.render(user("x"), ordered_json(nullptr), false), "26 Jul 2024");
}

TEST(ChatTemplate, GenerationTagRendersItsBody) {
  ChatTemplate t("{% for m in messages %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}");
  EXPECT_EQ(t.render(user("a"), ordered_json(nullptr), false), "[a]");
}

TEST(ChatTemplate, RaiseExceptionBecomesError) {
  ChatTemplate t(
      "{% if messages[0].role == 'system' %}\n{{ raise_exception('System role not supported') }}\n{% endif "
      "%}");
  try {
    t.render(ordered_json::array({{{"role", "system"}, {"content", "s"}}}), ordered_json(nullptr), false);
    FAIL() << "expected serval::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "chat template line 2: System role not supported");
  }
}

class ModelDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("serval_chat_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::filesystem::path dir_;
};

TEST_F(ModelDir, ReadsStringTemplateAndTokenObjects) {
  write("tokenizer_config.json",
        R"({"chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}",
    "bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>"})");
  auto t = ChatTemplate::from_model_dir(dir_.string());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->render(user("hi"), ordered_json(nullptr), false), "<s>hi</s>");
}

TEST_F(ModelDir, PicksTheDefaultOfNamedTemplates) {
  write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"},
    {"name": "default", "template": "D"}]})");
  EXPECT_EQ(ChatTemplate::from_model_dir(dir_.string())->source(), "D");
}

TEST_F(ModelDir, NoTemplateIsNullopt) {
  write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  EXPECT_FALSE(ChatTemplate::from_model_dir(dir_.string()).has_value());
}

TEST_F(ModelDir, FallsBackToChatTemplateJinja) {
  write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  write("chat_template.jinja", "{{ messages[0].content }}{{ eos_token }}");
  auto t = ChatTemplate::from_model_dir(dir_.string());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->render(user("x"), ordered_json(nullptr), false), "x</s>");
}

TEST_F(ModelDir, MalformedConfigNamesTheFile) {
  write("tokenizer_config.json", "{ not json");
  try {
    ChatTemplate::from_model_dir(dir_.string());
    FAIL() << "expected serval::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
  }
}

TEST_F(ModelDir, SyntaxErrorNamesFileAndLine) {
  write("tokenizer_config.json", R"({"chat_template": "ok\n{% if x %}"})");
  try {
    ChatTemplate::from_model_dir(dir_.string());
    FAIL() << "expected serval::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("tokenizer_config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("chat template line 2"), std::string::npos) << msg;
  }
}

TEST(ChatTemplateGolden, Qwen2TinyRendersChatML) {
  SERVAL_REQUIRE_GOLDEN();
  auto t = ChatTemplate::from_model_dir(test::golden_dir() + "/models/qwen2-tiny");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->eos_token(), "<|im_end|>");
  EXPECT_EQ(
      t->render(user("Hello"), ordered_json(nullptr), true),
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
      "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateGolden, Gemma2TinyRejectsSystemRole) {
  SERVAL_REQUIRE_GOLDEN();
  auto t = ChatTemplate::from_model_dir(test::golden_dir() + "/models/gemma2-tiny");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->render(user("Hi"), ordered_json(nullptr), true),
            "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_THROW(
      t->render(ordered_json::array({{{"role", "system"}, {"content", "s"}}}), ordered_json(nullptr), true),
      Error);
}

}  // namespace
}  // namespace serval
