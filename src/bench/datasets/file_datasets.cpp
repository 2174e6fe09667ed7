// File datasets: jsonl:FILE (one {"prompt"|"messages", "output_len"?} per line) and sharegpt:FILE
// (ShareGPT's JSON array of {"conversations": [{"from","value"}, ...]}).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "bench/datasets/dataset.h"
#include "bench/datasets/text_generator.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace serval::bench {

namespace {

int count_tokens(const TokenCounter& tc, const std::string& text) { return tc ? tc(text, true) : estimate_tokens(text); }

// Word count x 1.3, the usual rule of thumb, when no tokenizer is given (ShareGPT outputs).
int words_to_tokens(const std::string& text) {
  int words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return static_cast<int>(std::lround(words * 1.3));
}

std::vector<BenchSample> cycle_to(std::vector<BenchSample> pool, int num) {
  std::vector<BenchSample> out;
  out.reserve(num);
  for (int i = 0; i < num; ++i) out.push_back(pool[i % pool.size()]);
  return out;
}

}  // namespace

std::vector<BenchSample> jsonl_samples(const std::string& path, const DatasetConfig& c, int num, uint64_t,
                                       const TokenCounter& tc) {
  std::ifstream in(path);
  check(in.good(), "dataset file '" + path + "' cannot be opened");
  std::vector<BenchSample> pool;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line) && static_cast<int>(pool.size()) < num) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(where + "invalid JSON (" + e.what() + ")");
    }
    check(j.is_object(), where + "expected a JSON object");
    BenchSample s;
    if (auto p = j.find("prompt"); p != j.end()) {
      check(p->is_string(), where + "\"prompt\" must be a string");
      s.prompt = p->get<std::string>();
    } else if (auto m = j.find("messages"); m != j.end()) {
      check(m->is_array() && !m->empty(), where + "\"messages\" must be a non-empty array");
      for (const auto& msg : *m) {
        check(msg.is_object() && msg.contains("role") && msg["role"].is_string() && msg.contains("content") &&
                  msg["content"].is_string(),
              where + "each message needs string \"role\" and \"content\"");
        if (!s.prompt.empty()) s.prompt += "\n";
        s.prompt += msg["content"].get<std::string>();
      }
      s.messages = *m;
    } else {
      throw Error(where + "needs a \"prompt\" string or a \"messages\" array");
    }
    s.output_len = c.output_len;
    for (const char* key : {"output_len", "max_tokens"}) {
      if (auto o = j.find(key); o != j.end()) {
        check(o->is_number_integer() && o->get<long>() >= 1, where + "\"" + key + "\" must be an integer >= 1");
        s.output_len = o->get<int>();
      }
    }
    s.prompt_len = count_tokens(tc, s.prompt);
    pool.push_back(std::move(s));
  }
  check(!pool.empty(), "dataset file '" + path + "' has no prompts");
  return cycle_to(std::move(pool), num);
}

std::vector<BenchSample> sharegpt_samples(const std::string& path, int num, uint64_t seed, const TokenCounter& tc) {
  const std::string text = read_text_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const size_t at = std::min<size_t>(e.byte, text.size());
    const long line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
    throw Error(path + ":" + std::to_string(line) + ": invalid JSON (" + e.what() + ")");
  }
  check(j.is_array(), path + ": a ShareGPT file is a JSON array of {\"conversations\": [...]} entries");
  std::vector<size_t> order(j.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<BenchSample> pool;
  for (size_t idx : order) {
    if (static_cast<int>(pool.size()) >= num) break;
    const auto& entry = j[idx];
    const std::string where = path + ": entry " + std::to_string(idx) + ": ";
    check(entry.is_object(), where + "expected an object");
    auto conv = entry.find("conversations");
    check(conv != entry.end() && conv->is_array(), where + "missing \"conversations\" array");
    if (conv->size() < 2) continue;  // as vLLM: needs a prompt and a reply
    const auto& human = (*conv)[0];
    const auto& gpt = (*conv)[1];
    check(human.is_object() && human.contains("value") && human["value"].is_string() && gpt.is_object() &&
              gpt.contains("value") && gpt["value"].is_string(),
          where + "conversation turns need a string \"value\"");
    BenchSample s;
    s.prompt = human["value"].get<std::string>();
    const std::string& reply = gpt["value"].get_ref<const std::string&>();
    s.prompt_len = count_tokens(tc, s.prompt);
    s.output_len = tc ? tc(reply, false) : words_to_tokens(reply);
    if (s.prompt_len < 4 || s.output_len < 4) continue;  // vLLM's filter for degenerate pairs
    pool.push_back(std::move(s));
  }
  check(!pool.empty(), path + ": no usable conversations (need a human turn and a reply of >= 4 tokens each)");
  return cycle_to(std::move(pool), num);
}

}  // namespace serval::bench
