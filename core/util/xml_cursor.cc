// SPDX-License-Identifier: MIT
// The bounded XML lexer (see xml_cursor.h).
#include "core/util/xml_cursor.h"

#include <cstdint>
#include <utility>

#include "core/util/utf8.h"

namespace imgfs {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

}  // namespace

Status XmlCursor::Error(const std::string& what) const {
  return CorruptError(prefix_ + what + " at byte " + std::to_string(pos_));
}

void XmlCursor::SkipSpace() {
  while (pos_ < s_.size() && IsSpace(s_[pos_])) {
    ++pos_;
  }
}

Status XmlCursor::SkipPast(std::string_view end, const char* what) {
  const size_t at = s_.find(end, pos_);
  if (at == std::string_view::npos) {
    return Error(std::string("unterminated ") + what);
  }
  pos_ = at + end.size();
  return Status::Ok();
}

Status XmlCursor::SkipMisc() {
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

Status XmlCursor::SkipProlog() {
  if (pos_ == 0 && StartsWith("\xef\xbb\xbf")) {
    pos_ = 3;
  }
  IMGFS_RETURN_IF_ERROR(SkipMisc());
  if (!StartsWith("<!DOCTYPE")) {
    return Status::Ok();
  }
  const size_t start = pos_;
  pos_ += 9;
  bool in_subset = false;
  char quote = 0;
  for (; pos_ < s_.size(); ++pos_) {
    const char c = s_[pos_];
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
        return UnsupportedError(prefix_ + "entity declaration at byte " + std::to_string(pos_) +
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

Result<XmlCursor::Tag> XmlCursor::OpenTag() {
  if (!AtTag()) {
    return Error("expected an element");
  }
  ++pos_;
  Tag tag;
  const size_t start = pos_;
  while (pos_ < s_.size() && IsNameChar(s_[pos_])) {
    ++pos_;
  }
  if (pos_ == start) {
    return Error("malformed tag");
  }
  tag.name.assign(s_.substr(start, pos_ - start));
  // Attributes: name = "value" or 'value', skipped.
  for (;;) {
    const size_t before = pos_;
    SkipSpace();
    if (pos_ >= s_.size()) {
      break;
    }
    if (StartsWith("/>") || s_[pos_] == '>') {
      tag.empty = s_[pos_] == '/';
      pos_ += tag.empty ? 2 : 1;
      return tag;
    }
    const size_t attr = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) {
      ++pos_;
    }
    if (pos_ == attr || pos_ == before) {
      return Error("malformed attribute in <" + tag.name + ">");
    }
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != '=') {
      return Error("attribute without a value in <" + tag.name + ">");
    }
    ++pos_;
    SkipSpace();
    if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) {
      return Error("unquoted attribute value in <" + tag.name + ">");
    }
    const size_t end = s_.find(s_[pos_], pos_ + 1);
    if (end == std::string_view::npos) {
      break;
    }
    pos_ = end + 1;
  }
  return Error("unterminated <" + tag.name + "> tag");
}

Status XmlCursor::CloseTag(std::string_view name) {
  if (!StartsWith("</") || s_.substr(pos_ + 2, name.size()) != name ||
      (pos_ + 2 + name.size() < s_.size() && IsNameChar(s_[pos_ + 2 + name.size()]))) {
    return Error("expected </" + std::string(name) + ">");
  }
  pos_ += 2 + name.size();
  SkipSpace();
  if (pos_ >= s_.size() || s_[pos_] != '>') {
    return Error("malformed </" + std::string(name) + ">");
  }
  ++pos_;
  return Status::Ok();
}

// One "&...;" reference at the cursor, appended decoded.
Status XmlCursor::Reference(std::string* out) {
  const size_t semi = s_.find(';', pos_);
  if (semi == std::string_view::npos || semi - pos_ > 12) {
    return Error("malformed character reference");
  }
  const std::string_view ref = s_.substr(pos_ + 1, semi - pos_ - 1);
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
  const std::string_view digits = ref.substr(hex ? 2 : 1);
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

Status XmlCursor::AppendText(std::string_view element, std::string* out) {
  for (;;) {
    const size_t next = s_.find_first_of("<&", pos_);
    if (next == std::string_view::npos) {
      pos_ = s_.size();
      return Error("unterminated <" + std::string(element) + ">");
    }
    out->append(s_.substr(pos_, next - pos_));
    pos_ = next;
    if (s_[pos_] == '&') {
      IMGFS_RETURN_IF_ERROR(Reference(out));
    } else if (StartsWith("<![CDATA[")) {
      pos_ += 9;
      const size_t end = s_.find("]]>", pos_);
      if (end == std::string_view::npos) {
        return Error("unterminated CDATA section");
      }
      out->append(s_.substr(pos_, end - pos_));
      pos_ = end + 3;
    } else if (StartsWith("<!--")) {
      IMGFS_RETURN_IF_ERROR(SkipPast("-->", "comment"));
    } else if (StartsWith("<?")) {
      IMGFS_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
    } else if (StartsWith("<!")) {
      return UnsupportedError(prefix_ + "declaration inside <" + std::string(element) +
                              "> at byte " + std::to_string(pos_) + " is not read");
    } else {
      return Status::Ok();
    }
  }
}

Result<std::string> XmlCursor::Text(std::string_view name) {
  std::string out;
  IMGFS_RETURN_IF_ERROR(AppendText(name, &out));
  IMGFS_RETURN_IF_ERROR(CloseTag(name));
  return out;
}

}  // namespace imgfs
