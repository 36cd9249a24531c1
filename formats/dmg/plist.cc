// SPDX-License-Identifier: MIT
// The bounded XML plist parser (see plist.h). A recursive descent over the
// text: one function per construct, a depth counter on every nested value,
// and an element counter checked before each node is created.
#include "formats/dmg/plist.h"

#include <algorithm>
#include <cstring>

#include "core/util/utf8.h"

namespace imgfs::dmg::plist {

const Value* Value::Find(std::string_view key) const {
  if (type != Type::kDict) {
    return nullptr;
  }
  for (const auto& [k, v] : dict) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '.' || c == '-';
}

// Base64 digit value, or -1.
int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

class Parser {
 public:
  Parser(std::string_view xml, const Limits& limits) : xml_(xml), limits_(limits) {}

  Result<Value> Document() {
    if (xml_.size() > limits_.max_input_bytes) {
      return CorruptError("dmg: plist of " + std::to_string(xml_.size()) +
                          " bytes exceeds the cap of " + std::to_string(limits_.max_input_bytes));
    }
    if (xml_.substr(0, 3) == "\xef\xbb\xbf") {
      pos_ = 3;  // UTF-8 byte order mark
    }
    IMGFS_RETURN_IF_ERROR(SkipProlog());
    IMGFS_ASSIGN_OR_RETURN(Tag root, OpenTag());
    if (root.name != "plist") {
      return Error("root element is <" + root.name + ">, not <plist>");
    }
    if (root.empty) {
      return Error("<plist> is empty");
    }
    IMGFS_RETURN_IF_ERROR(SkipMisc());
    IMGFS_ASSIGN_OR_RETURN(Value v, ParseValue(1));
    IMGFS_RETURN_IF_ERROR(SkipMisc());
    IMGFS_RETURN_IF_ERROR(CloseTag("plist"));
    IMGFS_RETURN_IF_ERROR(SkipMisc());
    if (pos_ != xml_.size()) {
      return Error("content after </plist>");
    }
    return v;
  }

 private:
  struct Tag {
    std::string name;
    bool empty = false;  // <name/>
  };

  Status Error(const std::string& what) const {
    return CorruptError("dmg: plist: " + what + " at byte " + std::to_string(pos_));
  }

  bool StartsWith(std::string_view s) const { return xml_.substr(pos_, s.size()) == s; }

  void SkipSpace() {
    while (pos_ < xml_.size() && IsSpace(xml_[pos_])) {
      ++pos_;
    }
  }

  // Skips to just past `end`, or fails naming `what`.
  Status SkipPast(std::string_view end, const char* what) {
    size_t at = xml_.find(end, pos_);
    if (at == std::string_view::npos) {
      return Error(std::string("unterminated ") + what);
    }
    pos_ = at + end.size();
    return Status::Ok();
  }

  // Whitespace, comments and processing instructions.
  Status SkipMisc() {
    for (;;) {
      SkipSpace();
      if (StartsWith("<!--")) {
        IMGFS_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else if (StartsWith("<?")) {
        IMGFS_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
      } else {
        return Status::Ok();
      }
    }
  }

  // The XML declaration, comments and one DOCTYPE. An internal subset is
  // scanned only to refuse entity declarations (the billion-laughs bomb and
  // external entities both need one) and skipped otherwise.
  Status SkipProlog() {
    IMGFS_RETURN_IF_ERROR(SkipMisc());
    if (!StartsWith("<!DOCTYPE")) {
      return Status::Ok();
    }
    const size_t start = pos_;
    pos_ += 9;
    bool in_subset = false;
    char quote = 0;
    for (; pos_ < xml_.size(); ++pos_) {
      const char c = xml_[pos_];
      if (quote != 0) {
        quote = c == quote ? 0 : quote;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[') {
        in_subset = true;
      } else if (c == ']') {
        in_subset = false;
      } else if (c == '<' && in_subset) {
        if (StartsWith("<!ENTITY")) {
          return UnsupportedError("dmg: plist: entity declaration at byte " + std::to_string(pos_) +
                                  " refused");
        }
      } else if (c == '>' && !in_subset) {
        ++pos_;
        return SkipMisc();
      }
    }
    pos_ = start;
    return Error("unterminated DOCTYPE");
  }

  // Reads "<name attrs...>" or "<name .../>"; attributes are skipped.
  Result<Tag> OpenTag() {
    if (pos_ >= xml_.size() || xml_[pos_] != '<') {
      return Error("expected an element");
    }
    ++pos_;
    Tag tag;
    const size_t start = pos_;
    while (pos_ < xml_.size() && IsNameChar(xml_[pos_])) {
      ++pos_;
    }
    if (pos_ == start) {
      return Error("malformed tag");
    }
    tag.name.assign(xml_.substr(start, pos_ - start));
    char quote = 0;
    for (; pos_ < xml_.size(); ++pos_) {
      const char c = xml_[pos_];
      if (quote != 0) {
        quote = c == quote ? 0 : quote;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        tag.empty = xml_[pos_ - 1] == '/';
        ++pos_;
        return tag;
      } else if (c == '<') {
        break;
      }
    }
    return Error("unterminated <" + tag.name + "> tag");
  }

  Status CloseTag(std::string_view name) {
    if (!StartsWith("</") || xml_.substr(pos_ + 2, name.size()) != name) {
      return Error("expected </" + std::string(name) + ">");
    }
    pos_ += 2 + name.size();
    SkipSpace();
    if (pos_ >= xml_.size() || xml_[pos_] != '>') {
      return Error("malformed </" + std::string(name) + ">");
    }
    ++pos_;
    return Status::Ok();
  }

  // One "&...;" reference at pos_, appended decoded.
  Status Reference(std::string* out) {
    const size_t semi = xml_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) {
      return Error("malformed character reference");
    }
    std::string_view ref = xml_.substr(pos_ + 1, semi - pos_ - 1);
    static constexpr std::pair<std::string_view, char> kPredefined[] = {
        {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (const auto& [name, c] : kPredefined) {
      if (ref == name) {
        out->push_back(c);
        pos_ = semi + 1;
        return Status::Ok();
      }
    }
    if (ref.size() < 2 || ref[0] != '#') {
      return Error("unknown entity &" + std::string(ref) + ";");
    }
    const bool hex = ref[1] == 'x' || ref[1] == 'X';
    std::string_view digits = ref.substr(hex ? 2 : 1);
    if (digits.empty()) {
      return Error("empty character reference");
    }
    uint32_t cp = 0;
    for (char c : digits) {
      int d = -1;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (hex && c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (hex && c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      }
      if (d < 0) {
        return Error("bad digit in character reference");
      }
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      if (cp > 0x10ffff) {
        return Error("character reference out of range");
      }
    }
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
      return Error("character reference to an invalid code point");
    }
    AppendUtf8(cp, out);
    pos_ = semi + 1;
    return Status::Ok();
  }

  // Character data up to "</name>", with references, CDATA and comments.
  Result<std::string> Text(std::string_view name) {
    std::string out;
    for (;;) {
      const size_t next = xml_.find_first_of("<&", pos_);
      if (next == std::string_view::npos) {
        return Error("unterminated <" + std::string(name) + ">");
      }
      out.append(xml_.substr(pos_, next - pos_));
      pos_ = next;
      if (xml_[pos_] == '&') {
        IMGFS_RETURN_IF_ERROR(Reference(&out));
      } else if (StartsWith("<![CDATA[")) {
        pos_ += 9;
        const size_t end = xml_.find("]]>", pos_);
        if (end == std::string_view::npos) {
          return Error("unterminated CDATA section");
        }
        out.append(xml_.substr(pos_, end - pos_));
        pos_ = end + 3;
      } else if (StartsWith("<!--")) {
        IMGFS_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else {
        IMGFS_RETURN_IF_ERROR(CloseTag(name));
        return out;
      }
    }
  }

  Status CountElement() {
    if (++elements_ > limits_.max_elements) {
      return Error("more than " + std::to_string(limits_.max_elements) + " elements");
    }
    return Status::Ok();
  }

  Status DecodeBase64(std::string_view text, std::string* out) {
    // Decoded size is at most 3/4 of the text, which the input cap bounds;
    // the data cap is checked as bytes are produced, so a bomb stops early.
    const uint64_t room = limits_.max_data_bytes - data_bytes_;
    out->reserve(static_cast<size_t>(std::min<uint64_t>(text.size() / 4 * 3, room)));
    uint32_t acc = 0;
    int bits = 0;
    size_t padding = 0;
    for (char c : text) {
      if (IsSpace(c)) {
        continue;
      }
      if (c == '=') {
        ++padding;
        continue;
      }
      const int d = Base64Digit(c);
      if (d < 0 || padding > 0) {
        return Error("invalid base64 in <data>");
      }
      acc = (acc << 6) | static_cast<uint32_t>(d);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        if (out->size() >= room) {
          return Error("<data> exceeds the cap of " + std::to_string(limits_.max_data_bytes) +
                       " decoded bytes");
        }
        out->push_back(static_cast<char>((acc >> bits) & 0xff));
      }
    }
    // Leftover bits must be fewer than a byte and zero; padding at most 2.
    if (bits >= 6 || padding > 2 || (acc & ((1u << bits) - 1)) != 0) {
      return Error("invalid base64 in <data>");
    }
    data_bytes_ += out->size();
    return Status::Ok();
  }

  Result<int64_t> Integer(std::string_view text) {
    while (!text.empty() && IsSpace(text.front())) {
      text.remove_prefix(1);
    }
    while (!text.empty() && IsSpace(text.back())) {
      text.remove_suffix(1);
    }
    bool negative = false;
    if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
      negative = text[0] == '-';
      text.remove_prefix(1);
    }
    bool hex = false;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      hex = true;
      text.remove_prefix(2);
    }
    if (text.empty()) {
      return Error("empty <integer>");
    }
    uint64_t v = 0;
    const uint64_t base = hex ? 16 : 10;
    for (char c : text) {
      uint64_t d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint64_t>(c - '0');
      } else if (hex && c >= 'a' && c <= 'f') {
        d = static_cast<uint64_t>(c - 'a' + 10);
      } else if (hex && c >= 'A' && c <= 'F') {
        d = static_cast<uint64_t>(c - 'A' + 10);
      } else {
        return Error("bad digit in <integer>");
      }
      if (v > (UINT64_MAX - d) / base) {
        return Error("<integer> overflows");
      }
      v = v * base + d;
    }
    if (negative) {
      if (v > uint64_t{1} << 63) {
        return Error("<integer> overflows");
      }
      return static_cast<int64_t>(0 - v);
    }
    if (v > static_cast<uint64_t>(INT64_MAX)) {
      return Error("<integer> overflows");
    }
    return static_cast<int64_t>(v);
  }

  Result<Value> ParseValue(uint32_t depth) {
    if (depth > limits_.max_depth) {
      return Error("nesting deeper than " + std::to_string(limits_.max_depth));
    }
    IMGFS_RETURN_IF_ERROR(CountElement());
    IMGFS_ASSIGN_OR_RETURN(Tag tag, OpenTag());
    Value v;
    if (tag.name == "dict") {
      v.type = Type::kDict;
      if (!tag.empty) {
        IMGFS_RETURN_IF_ERROR(Dict(depth, &v));
      }
    } else if (tag.name == "array") {
      v.type = Type::kArray;
      if (!tag.empty) {
        IMGFS_RETURN_IF_ERROR(Array(depth, &v));
      }
    } else if (tag.name == "true" || tag.name == "false") {
      v.type = Type::kBool;
      v.boolean = tag.name == "true";
      if (!tag.empty) {
        IMGFS_RETURN_IF_ERROR(CloseTag(tag.name));
      }
    } else if (tag.name == "string" || tag.name == "date" || tag.name == "real" ||
               tag.name == "data" || tag.name == "integer") {
      std::string text;
      if (!tag.empty) {
        IMGFS_ASSIGN_OR_RETURN(text, Text(tag.name));
      }
      if (tag.name == "data") {
        v.type = Type::kData;
        IMGFS_RETURN_IF_ERROR(DecodeBase64(text, &v.text));
      } else if (tag.name == "integer") {
        v.type = Type::kInteger;
        IMGFS_ASSIGN_OR_RETURN(v.integer, Integer(text));
      } else {
        v.type = tag.name == "string" ? Type::kString
                 : tag.name == "date" ? Type::kDate
                                      : Type::kReal;
        v.text = std::move(text);
      }
    } else {
      return UnsupportedError("dmg: plist: unknown element <" + tag.name + "> at byte " +
                              std::to_string(pos_));
    }
    return v;
  }

  Status Dict(uint32_t depth, Value* v) {
    for (;;) {
      IMGFS_RETURN_IF_ERROR(SkipMisc());
      if (StartsWith("</")) {
        return CloseTag("dict");
      }
      IMGFS_RETURN_IF_ERROR(CountElement());
      IMGFS_ASSIGN_OR_RETURN(Tag key, OpenTag());
      if (key.name != "key") {
        return Error("<dict> holds <" + key.name + "> where a <key> belongs");
      }
      std::string name;
      if (!key.empty) {
        IMGFS_ASSIGN_OR_RETURN(name, Text("key"));
      }
      IMGFS_RETURN_IF_ERROR(SkipMisc());
      IMGFS_ASSIGN_OR_RETURN(Value item, ParseValue(depth + 1));
      v->dict.push_back(DictEntry{std::move(name), std::move(item)});
    }
  }

  Status Array(uint32_t depth, Value* v) {
    for (;;) {
      IMGFS_RETURN_IF_ERROR(SkipMisc());
      if (StartsWith("</")) {
        return CloseTag("array");
      }
      IMGFS_ASSIGN_OR_RETURN(Value item, ParseValue(depth + 1));
      v->array.push_back(std::move(item));
    }
  }

  std::string_view xml_;
  const Limits& limits_;
  size_t pos_ = 0;
  uint64_t elements_ = 0;
  uint64_t data_bytes_ = 0;
};

}  // namespace

Result<Value> Parse(std::string_view xml, const Limits& limits) {
  Parser p(xml, limits);
  return p.Document();
}

}  // namespace imgfs::dmg::plist
