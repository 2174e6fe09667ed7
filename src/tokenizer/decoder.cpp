// Decoder steps over the list of token strings.
#include "tokenizer/decoder.h"

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace serval {

namespace {

// The byte of a "<0xNN>" token, or -1.
int byte_token_value(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(token[3]), lo = hex(token[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

Decoder Decoder::from_json(const nlohmann::json& j) {
  Decoder d;
  if (!j.is_null()) {
    d.none_ = false;
    d.add(j, 0);
  }
  return d;
}

void Decoder::add(const nlohmann::json& j, int depth) {
  if (depth > 16) throw Error("tokenizer.json: decoder Sequence nested too deeply");
  const std::string type = json_fields::get_type(j, "decoder");
  const std::string where = "decoder " + type;
  Step step{};
  if (type == "Sequence") {
    for (const auto& child : json_fields::get_array(j, "decoders", where)) add(child, depth + 1);
    return;
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    step.content = json_fields::get_string(j, "replacement", where, "\xE2\x96\x81");
    if (step.content.empty() || utf8::char_len(step.content, 0) != step.content.size())
      throw Error("tokenizer.json: decoder Metaspace replacement must be one character");
    if (const auto* scheme = json_fields::find(j, "prepend_scheme")) {
      if (!scheme->is_string()) throw Error("tokenizer.json: decoder Metaspace prepend_scheme must be a string");
      step.prepend = scheme->get<std::string>() != "never";
    } else {
      step.prepend = json_fields::get_bool(j, "add_prefix_space", where, true);
    }
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    if (!j.contains("pattern")) throw Error("tokenizer.json: decoder Replace is missing \"pattern\"");
    step.pattern = Pattern::from_json(j["pattern"], where);
    step.content = json_fields::get_string(j, "content", where, {}, true);
  } else if (type == "ByteFallback") {
    step.kind = Kind::kByteFallback;
    has_byte_fallback_ = true;
  } else if (type == "Fuse") {
    step.kind = Kind::kFuse;
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    step.content = json_fields::get_string(j, "content", where, " ");
    if (step.content.empty() || utf8::char_len(step.content, 0) != step.content.size())
      throw Error("tokenizer.json: decoder Strip content must be one character");
    int64_t start = json_fields::get_int(j, "start", where, 0), stop = json_fields::get_int(j, "stop", where, 0);
    if (start < 0 || stop < 0) throw Error("tokenizer.json: decoder Strip start/stop must be >= 0");
    step.start = static_cast<size_t>(start);
    step.stop = static_cast<size_t>(stop);
  } else if (type == "BPEDecoder") {
    step.kind = Kind::kBpeSuffix;
    step.content = json_fields::get_string(j, "suffix", where, "</w>");
  } else {
    throw Error("tokenizer.json: unsupported decoder type \"" + type + "\"");
  }
  steps_.push_back(std::move(step));
}

void Decoder::run_step(const Step& s, std::vector<std::string>& tokens) const {
  switch (s.kind) {
    case Kind::kByteLevel: {
      // Tokens made only of mapped characters become their bytes; any other token keeps its own bytes.
      std::string bytes;
      for (const std::string& t : tokens) {
        std::string mapped;
        bool ok = true;
        for (size_t i = 0; i < t.size() && ok;) {
          int b = byte_level::char_to_byte(utf8::decode_at(t, i));
          if (b < 0) ok = false;
          else mapped += static_cast<char>(b);
          i += utf8::char_len(t, i);
        }
        bytes += ok ? mapped : t;
      }
      tokens.assign(1, utf8::lossy(bytes));
      return;
    }
    case Kind::kMetaspace: {
      Pattern rep = Pattern::literal(s.content);
      for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = rep.replace_all(tokens[i], i == 0 && s.prepend ? "" : " ");
      return;
    }
    case Kind::kReplace:
      for (std::string& t : tokens) t = s.pattern.replace_all(t, s.content);
      return;
    case Kind::kByteFallback: {
      std::vector<std::string> out;
      std::string pending;
      auto flush = [&] {
        if (pending.empty()) return;
        if (utf8::find_invalid(pending) == std::string::npos) {
          out.push_back(pending);
        } else {
          for (size_t k = 0; k < pending.size(); ++k) out.emplace_back(utf8::replacement_char);  // one per byte
        }
        pending.clear();
      };
      for (std::string& t : tokens) {
        int b = byte_token_value(t);
        if (b >= 0) {
          pending += static_cast<char>(b);
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      tokens = std::move(out);
      return;
    }
    case Kind::kFuse: {
      std::string all;
      for (const std::string& t : tokens) all += t;
      tokens.assign(1, std::move(all));
      return;
    }
    case Kind::kStrip:
      for (std::string& t : tokens) {
        size_t begin = 0;
        for (size_t k = 0; k < s.start && t.compare(begin, s.content.size(), s.content) == 0; ++k)
          begin += s.content.size();
        size_t end = t.size();
        for (size_t k = 0; k < s.stop && end >= begin + s.content.size() &&
                           t.compare(end - s.content.size(), s.content.size(), s.content) == 0;
             ++k)
          end -= s.content.size();
        t = t.substr(begin, end - begin);
      }
      return;
    case Kind::kBpeSuffix: {
      Pattern suffix = Pattern::literal(s.content);
      for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = suffix.replace_all(tokens[i], i + 1 == tokens.size() ? "" : " ");
      return;
    }
  }
}

std::string Decoder::decode(std::vector<std::string> tokens) const {
  std::string out;
  if (none_) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  for (const Step& s : steps_) run_step(s, tokens);
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace serval
