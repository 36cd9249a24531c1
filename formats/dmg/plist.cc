// SPDX-License-Identifier: MIT
// The bounded XML plist parser (see plist.h). A recursive descent over the
// text: one function per construct, a depth counter on every nested value,
// and an element counter checked before each node is created.
#include "formats/dmg/plist.h"

#include <algorithm>
#include <cstring>

#include "core/util/xml_cursor.h"

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
  Parser(std::string_view xml, const Limits& limits)
      : xml_(xml, "dmg: plist: "), size_(xml.size()), limits_(limits) {}

  Result<Value> Document() {
    if (size_ > limits_.max_input_bytes) {
      return CorruptError("dmg: plist of " + std::to_string(size_) + " bytes exceeds the cap of " +
                          std::to_string(limits_.max_input_bytes));
    }
    IMGFS_RETURN_IF_ERROR(xml_.SkipProlog());
    IMGFS_ASSIGN_OR_RETURN(XmlCursor::Tag root, xml_.OpenTag());
    if (root.name != "plist") {
      return Error("root element is <" + root.name + ">, not <plist>");
    }
    if (root.empty) {
      return Error("<plist> is empty");
    }
    IMGFS_RETURN_IF_ERROR(xml_.SkipMisc());
    IMGFS_ASSIGN_OR_RETURN(Value v, ParseValue(1));
    IMGFS_RETURN_IF_ERROR(xml_.SkipMisc());
    IMGFS_RETURN_IF_ERROR(xml_.CloseTag("plist"));
    IMGFS_RETURN_IF_ERROR(xml_.SkipMisc());
    if (!xml_.AtEnd()) {
      return Error("content after </plist>");
    }
    return v;
  }

 private:
  Status Error(const std::string& what) const { return xml_.Error(what); }

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
    IMGFS_ASSIGN_OR_RETURN(XmlCursor::Tag tag, xml_.OpenTag());
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
        IMGFS_RETURN_IF_ERROR(xml_.CloseTag(tag.name));
      }
    } else if (tag.name == "string" || tag.name == "date" || tag.name == "real" ||
               tag.name == "data" || tag.name == "integer") {
      std::string text;
      if (!tag.empty) {
        IMGFS_ASSIGN_OR_RETURN(text, xml_.Text(tag.name));
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
                              std::to_string(xml_.pos()));
    }
    return v;
  }

  Status Dict(uint32_t depth, Value* v) {
    for (;;) {
      IMGFS_RETURN_IF_ERROR(xml_.SkipMisc());
      if (xml_.AtCloseTag()) {
        return xml_.CloseTag("dict");
      }
      IMGFS_RETURN_IF_ERROR(CountElement());
      IMGFS_ASSIGN_OR_RETURN(XmlCursor::Tag key, xml_.OpenTag());
      if (key.name != "key") {
        return Error("<dict> holds <" + key.name + "> where a <key> belongs");
      }
      std::string name;
      if (!key.empty) {
        IMGFS_ASSIGN_OR_RETURN(name, xml_.Text("key"));
      }
      IMGFS_RETURN_IF_ERROR(xml_.SkipMisc());
      IMGFS_ASSIGN_OR_RETURN(Value item, ParseValue(depth + 1));
      v->dict.push_back(DictEntry{std::move(name), std::move(item)});
    }
  }

  Status Array(uint32_t depth, Value* v) {
    for (;;) {
      IMGFS_RETURN_IF_ERROR(xml_.SkipMisc());
      if (xml_.AtCloseTag()) {
        return xml_.CloseTag("array");
      }
      IMGFS_ASSIGN_OR_RETURN(Value item, ParseValue(depth + 1));
      v->array.push_back(std::move(item));
    }
  }

  XmlCursor xml_;
  size_t size_;
  const Limits& limits_;
  uint64_t elements_ = 0;
  uint64_t data_bytes_ = 0;
};

}  // namespace

Result<Value> Parse(std::string_view xml, const Limits& limits) {
  Parser p(xml, limits);
  return p.Document();
}

}  // namespace imgfs::dmg::plist
