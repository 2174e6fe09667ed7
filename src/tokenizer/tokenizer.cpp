// Tokenizer loading (tokenizer.json + tokenizer_config.json), encode and decode.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace serval {

namespace {

using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse_json(std::string_view text, const std::string& name) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(name + " is not valid JSON");
  if (!j.is_object()) throw Error(name + " must hold a JSON object");
  return j;
}

// A special-token entry of tokenizer_config.json: "text" or {"content": "text", ...}.
std::optional<std::string> config_token(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw Error(std::string("tokenizer_config.json: ") + key + " must be a string or {\"content\": ...}");
}

AddedToken parse_added_token(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error("tokenizer.json: " + where + " must be an object");
  AddedToken t;
  int64_t id = json_fields::get_int(j, "id", where, -1);
  if (id < 0 || id > INT32_MAX) throw Error("tokenizer.json: " + where + " needs a non-negative integer \"id\"");
  t.id = static_cast<int32_t>(id);
  t.content = json_fields::get_string(j, "content", where, {}, true);
  if (t.content.empty()) throw Error("tokenizer.json: " + where + " has empty content");
  t.single_word = json_fields::get_bool(j, "single_word", where, false);
  t.lstrip = json_fields::get_bool(j, "lstrip", where, false);
  t.rstrip = json_fields::get_bool(j, "rstrip", where, false);
  t.special = json_fields::get_bool(j, "special", where, false);
  t.normalized = json_fields::get_bool(j, "normalized", where, !t.special);
  return t;
}

bool rebuilds_post_processor(const std::string& tokenizer_class) {
  // transformers' LlamaTokenizerFast / GemmaTokenizerFast (and CodeLlama) call update_post_processor(),
  // replacing tokenizer.json's post-processor by [bos if add_bos_token] $A [eos if add_eos_token].
  std::string c = tokenizer_class;
  if (c.size() > 4 && c.compare(c.size() - 4, 4, "Fast") == 0) c.resize(c.size() - 4);
  return c == "LlamaTokenizer" || c == "GemmaTokenizer" || c == "CodeLlamaTokenizer";
}

}  // namespace

Tokenizer Tokenizer::from_dir(const std::string& model_dir) {
  const std::string tokenizer_path = model_dir + "/tokenizer.json";
  const std::string config_path = model_dir + "/tokenizer_config.json";
  std::string tokenizer_text = read_file(tokenizer_path);
  std::string config_text;
  if (std::ifstream(config_path).good()) config_text = read_file(config_path);
  try {
    return from_json_text(tokenizer_text, config_text);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (in " + model_dir + ")");
  }
}

Tokenizer Tokenizer::from_json_text(std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
  json tj = parse_json(tokenizer_json, "tokenizer.json");
  json config = tokenizer_config_json.empty() ? json::object()
                                              : parse_json(tokenizer_config_json, "tokenizer_config.json");
  auto impl = std::make_shared<Impl>();
  try {
    if (!tj.contains("model")) throw Error("tokenizer.json has no \"model\"");
    impl->model = BpeModel::from_json(tj["model"]);
    impl->normalizer = Normalizer::from_json(tj.value("normalizer", json()));
    impl->pre_tokenizer = PreTokenizer::from_json(tj.value("pre_tokenizer", json()));
    impl->decoder = Decoder::from_json(tj.value("decoder", json()));
    impl->post_processor = PostProcessor::from_json(tj.value("post_processor", json()));
  } catch (const json::exception& e) {
    throw Error(std::string("tokenizer.json: unexpected field shape: ") + e.what());
  }

  // Added tokens: tokenizer.json's list, plus any only tokenizer_config.json's added_tokens_decoder names.
  std::vector<AddedToken> added;
  if (const json* list = json_fields::find(tj, "added_tokens")) {
    if (!list->is_array()) throw Error("tokenizer.json: \"added_tokens\" must be an array");
    for (size_t i = 0; i < list->size(); ++i)
      added.push_back(parse_added_token((*list)[i], "added_tokens[" + std::to_string(i) + "]"));
  }
  if (const json* decoder_map = json_fields::find(config, "added_tokens_decoder"); decoder_map && decoder_map->is_object()) {
    for (const auto& [key, value] : decoder_map->items()) {
      json entry = value;
      try {
        entry["id"] = std::stoll(key);
      } catch (const std::exception&) {
        throw Error("tokenizer_config.json: added_tokens_decoder key \"" + key + "\" is not an id");
      }
      AddedToken t = parse_added_token(entry, "tokenizer_config.json added_tokens_decoder." + key);
      bool known = false;
      for (const AddedToken& a : added) known = known || a.id == t.id;
      if (!known) added.push_back(t);
    }
  }
  // transformers registers the config's named special tokens as special added tokens.
  std::vector<std::string> named_specials;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"})
    if (auto t = config_token(config, key)) named_specials.push_back(*t);
  if (const json* extra = json_fields::find(config, "additional_special_tokens"); extra && extra->is_array())
    for (const auto& e : *extra) {
      if (e.is_string()) {
        named_specials.push_back(e.get<std::string>());
      } else if (e.is_object() && e.contains("content") && e["content"].is_string()) {
        named_specials.push_back(e["content"].get<std::string>());
      }
    }
  for (const std::string& name : named_specials) {
    bool found = false;
    for (AddedToken& a : added)
      if (a.content == name) found = a.special = true;
    if (found) continue;
    auto it = impl->model->vocab().find(name);
    if (it == impl->model->vocab().end()) continue;  // transformers would add a new id; we only know the vocab
    added.push_back({name, it->second, false, false, false, false, true});
  }

  // Id tables.
  int32_t size = 0;
  for (const auto& [token, id] : impl->model->vocab()) size = std::max(size, id + 1);
  for (const AddedToken& a : added) size = std::max(size, a.id + 1);
  impl->id_to_token.assign(size, {});
  impl->has_token.assign(size, 0);
  impl->special.assign(size, 0);
  impl->byte_fallback.assign(size, 0);
  for (const auto& [token, id] : impl->model->vocab()) {
    impl->id_to_token[id] = token;
    impl->has_token[id] = 1;
  }
  for (const AddedToken& a : added) {
    impl->id_to_token[a.id] = a.content;
    impl->has_token[a.id] = 1;
    impl->special[a.id] = a.special ? 1 : 0;
    impl->added_to_id.emplace(a.content, a.id);
  }
  if (impl->decoder.has_byte_fallback()) {
    for (int32_t id = 0; id < size; ++id) {
      const std::string& t = impl->id_to_token[id];
      impl->byte_fallback[id] = t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
                                std::isxdigit(static_cast<unsigned char>(t[3])) &&
                                std::isxdigit(static_cast<unsigned char>(t[4]));
    }
  }
  impl->added.build(std::move(added), impl->normalizer);

  auto lookup = [&](const std::string& token) -> std::optional<int32_t> {
    if (auto it = impl->added_to_id.find(token); it != impl->added_to_id.end()) return it->second;
    if (auto it = impl->model->vocab().find(token); it != impl->model->vocab().end()) return it->second;
    return std::nullopt;
  };
  auto bos = config_token(config, "bos_token");
  auto eos = config_token(config, "eos_token");
  if (bos) impl->bos_id = lookup(*bos);
  if (eos) impl->eos_id = lookup(*eos);
  impl->clean_up_tokenization_spaces = json_fields::get_bool(config, "clean_up_tokenization_spaces", "config", false);

  std::string tokenizer_class = config.value("tokenizer_class", json("")).is_string()
                                    ? config.value("tokenizer_class", std::string())
                                    : std::string();
  if (rebuilds_post_processor(tokenizer_class)) {
    bool add_bos = json_fields::get_bool(config, "add_bos_token", "tokenizer_config.json", true);
    bool add_eos = json_fields::get_bool(config, "add_eos_token", "tokenizer_config.json", false);
    PostProcessor p;
    if (add_bos) {
      if (!impl->bos_id) throw Error("tokenizer_config.json: add_bos_token is true but bos_token is not a known token");
      p.prefix.push_back(*impl->bos_id);
    }
    if (add_eos) {
      if (!impl->eos_id) throw Error("tokenizer_config.json: add_eos_token is true but eos_token is not a known token");
      p.suffix.push_back(*impl->eos_id);
    }
    impl->post_processor = std::move(p);
  }
  for (int32_t id : impl->post_processor.prefix)
    check(id >= 0 && id < size, "tokenizer.json: post_processor adds id " + std::to_string(id) + ", outside the vocab");
  for (int32_t id : impl->post_processor.suffix)
    check(id >= 0 && id < size, "tokenizer.json: post_processor adds id " + std::to_string(id) + ", outside the vocab");
  return Tokenizer(std::move(impl));
}

void Tokenizer::Impl::encode_text(std::string_view text, std::vector<int32_t>& ids) const {
  std::vector<std::string> words;
  for (const auto& seg : added.split(text, /*normalized_set=*/false)) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    std::string normalized(text.substr(seg.start, seg.end - seg.start));
    normalizer.apply(normalized);
    for (const auto& sub : added.split(normalized, /*normalized_set=*/true)) {
      if (sub.id >= 0) {
        ids.push_back(sub.id);
        continue;
      }
      words.clear();
      pre_tokenizer.apply(normalized.substr(sub.start, sub.end - sub.start), seg.start == 0 && sub.start == 0, words);
      for (const std::string& w : words) model->encode_word(w, ids);
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  size_t bad = utf8::find_invalid(text);
  if (bad != std::string_view::npos)
    throw Error("text to tokenize is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = impl_->post_processor.prefix;
  impl_->encode_text(text, ids);
  if (add_special_tokens)
    ids.insert(ids.end(), impl_->post_processor.suffix.begin(), impl_->post_processor.suffix.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  const int32_t size = vocab_size();
  for (int32_t id : ids) {
    if (id < 0 || id >= size || !impl_->has_token[id]) continue;
    if (skip_special_tokens && impl_->special[id]) continue;
    tokens.push_back(impl_->id_to_token[id]);
  }
  return impl_->decoder.decode(std::move(tokens));
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_to_token.size()); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = impl_->added_to_id.find(token); it != impl_->added_to_id.end()) return it->second;
  if (auto it = impl_->model->vocab().find(token); it != impl_->model->vocab().end()) return it->second;
  return std::nullopt;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return impl_->id_to_token[id];
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && impl_->special[id]; }

bool Tokenizer::is_byte_fallback_token(int32_t id) const {
  return id >= 0 && id < vocab_size() && impl_->byte_fallback[id];
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos_id; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos_id; }

std::span<const int32_t> Tokenizer::prefix_special_ids() const { return impl_->post_processor.prefix; }
std::span<const int32_t> Tokenizer::suffix_special_ids() const { return impl_->post_processor.suffix; }

bool Tokenizer::clean_up_tokenization_spaces() const { return impl_->clean_up_tokenization_spaces; }

std::string Tokenizer::clean_up_tokenization(std::string text) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    std::string out;
    size_t prev = 0, pos;
    while ((pos = text.find(from, prev)) != std::string::npos) {
      out.append(text, prev, pos - prev);
      out.append(to);
      prev = pos + from.size();
    }
    out.append(text, prev);
    text = std::move(out);
  }
  return text;
}

}  // namespace serval
