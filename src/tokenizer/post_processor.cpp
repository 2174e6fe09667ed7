// Post-processor parsing: only the single-sequence template matters for encode().
#include "tokenizer/post_processor.h"

#include "core/error.h"
#include "tokenizer/json_fields.h"

namespace serval {

namespace {

void parse_into(const nlohmann::json& j, PostProcessor& p, int depth) {
  if (depth > 16) throw Error("tokenizer.json: post_processor Sequence nested too deeply");
  const std::string type = json_fields::get_type(j, "post_processor");
  const std::string where = "post_processor " + type;
  if (type == "ByteLevel") return;  // only adjusts offsets
  if (type == "Sequence") {
    for (const auto& child : json_fields::get_array(j, "processors", where)) parse_into(child, p, depth + 1);
    return;
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    auto pair_id = [&](const char* key) {
      const auto* v = json_fields::find(j, key);
      if (v == nullptr || !v->is_array() || v->size() != 2 || !(*v)[1].is_number_integer())
        throw Error("tokenizer.json: " + where + " field \"" + key + "\" must be [token, id]");
      return (*v)[1].get<int32_t>();
    };
    p.prefix.insert(p.prefix.begin(), pair_id("cls"));
    p.suffix.push_back(pair_id("sep"));
    return;
  }
  if (type != "TemplateProcessing") throw Error("tokenizer.json: unsupported post_processor type \"" + type + "\"");

  const auto& single = json_fields::get_array(j, "single", where);
  const auto* specials = json_fields::find(j, "special_tokens");
  std::vector<int32_t> before, after;
  bool seen_sequence = false;
  for (const auto& piece : single) {
    if (piece.is_object() && piece.contains("Sequence")) {
      if (seen_sequence) throw Error("tokenizer.json: post_processor TemplateProcessing single has two sequences");
      seen_sequence = true;
      continue;
    }
    if (!piece.is_object() || !piece.contains("SpecialToken") || !piece["SpecialToken"].is_object())
      throw Error("tokenizer.json: post_processor TemplateProcessing single has a bad piece " + piece.dump());
    std::string name = json_fields::get_string(piece["SpecialToken"], "id", where, {}, true);
    if (specials == nullptr || !specials->is_object() || !specials->contains(name))
      throw Error("tokenizer.json: post_processor TemplateProcessing uses \"" + name +
                  "\", which is not in its special_tokens");
    const auto& ids = json_fields::get_array((*specials)[name], "ids", where + " special_tokens." + name);
    for (const auto& id : ids) {
      if (!id.is_number_integer()) throw Error("tokenizer.json: " + where + " special_tokens." + name + " ids must be integers");
      (seen_sequence ? after : before).push_back(id.get<int32_t>());
    }
  }
  // A later processor wraps what the earlier ones produced.
  p.prefix.insert(p.prefix.begin(), before.begin(), before.end());
  p.suffix.insert(p.suffix.end(), after.begin(), after.end());
}

}  // namespace

PostProcessor PostProcessor::from_json(const nlohmann::json& j) {
  PostProcessor p;
  if (!j.is_null()) parse_into(j, p, 0);
  return p;
}

}  // namespace serval
