// SPDX-License-Identifier: MIT
// The bounded XML reader (see xml.h).
#include "formats/parallels/xml.h"

#include <cstdlib>

namespace imgfs::parallels::xml {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xc0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xe0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    *out += static_cast<char>(0xf0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<Element> Document() {
    IMGFS_RETURN_IF_ERROR(SkipMisc(true));
    if (!Peek('<')) {
      return Error("no root element");
    }
    Element root;
    IMGFS_RETURN_IF_ERROR(ParseElement(&root, 1));
    IMGFS_RETURN_IF_ERROR(SkipMisc(false));
    if (pos_ != s_.size()) {
      return Error("content after the root element");
    }
    return root;
  }

 private:
  Status Error(const std::string& what) const {
    return CorruptError("parallels: DiskDescriptor.xml: " + what + " at byte " +
                        std::to_string(pos_));
  }
  bool Peek(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }
  bool Peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void SkipSpace() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) {
      ++pos_;
    }
  }
  // Skips to just past `end`; false when it never comes.
  bool SkipPast(std::string_view end) {
    const size_t at = s_.find(end, pos_);
    if (at == std::string_view::npos) {
      return false;
    }
    pos_ = at + end.size();
    return true;
  }

  // Whitespace, comments, processing instructions and (in the prolog) a
  // DOCTYPE between elements.
  Status SkipMisc(bool prolog) {
    for (;;) {
      SkipSpace();
      if (Peek("<?")) {
        if (!SkipPast("?>")) {
          return Error("unterminated processing instruction");
        }
      } else if (Peek("<!--")) {
        if (!SkipPast("-->")) {
          return Error("unterminated comment");
        }
      } else if (prolog && Peek("<!DOCTYPE")) {
        const size_t end = s_.find('>', pos_);
        const size_t bracket = s_.find('[', pos_);
        if (bracket != std::string_view::npos && (end == std::string_view::npos || bracket < end)) {
          return UnsupportedError(
              "parallels: DiskDescriptor.xml: DOCTYPE with declarations is not read");
        }
        if (end == std::string_view::npos) {
          return Error("unterminated DOCTYPE");
        }
        pos_ = end + 1;
      } else {
        return Status::Ok();
      }
    }
  }

  Result<std::string> Name() {
    const size_t start = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) {
      ++pos_;
    }
    if (pos_ == start) {
      return Error("expected a name");
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  // Attributes are skipped, quotes respected. True for "/>".
  Result<bool> SkipAttributes() {
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size()) {
        return Error("unterminated start tag");
      }
      if (Peek("/>")) {
        pos_ += 2;
        return true;
      }
      if (Peek('>')) {
        ++pos_;
        return false;
      }
      IMGFS_RETURN_IF_ERROR(Name().status());
      SkipSpace();
      if (!Peek('=')) {
        return Error("attribute without a value");
      }
      ++pos_;
      SkipSpace();
      if (!Peek('"') && !Peek('\'')) {
        return Error("unquoted attribute value");
      }
      const char quote = s_[pos_++];
      const size_t end = s_.find(quote, pos_);
      if (end == std::string_view::npos) {
        return Error("unterminated attribute value");
      }
      pos_ = end + 1;
    }
  }

  Status Entity(std::string* out) {
    const size_t end = s_.find(';', pos_);
    if (end == std::string_view::npos || end - pos_ > 12) {
      return Error("unterminated entity");
    }
    const std::string_view name = s_.substr(pos_ + 1, end - pos_ - 1);
    static constexpr std::pair<std::string_view, char> kPredefined[] = {
        {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (const auto& [n, c] : kPredefined) {
      if (name == n) {
        *out += c;
        pos_ = end + 1;
        return Status::Ok();
      }
    }
    if (name.size() >= 2 && name[0] == '#') {
      const bool hex = name[1] == 'x' || name[1] == 'X';
      const std::string digits(name.substr(hex ? 2 : 1));
      char* stop = nullptr;
      const unsigned long cp = std::strtoul(digits.c_str(), &stop, hex ? 16 : 10);
      if (!digits.empty() && *stop == '\0' && cp > 0 && cp <= 0x10ffff) {
        AppendUtf8(static_cast<uint32_t>(cp), out);
        pos_ = end + 1;
        return Status::Ok();
      }
    }
    return Error("unknown entity '&" + std::string(name) + ";'");
  }

  Status ParseElement(Element* e, uint32_t depth) {
    if (depth > kMaxDepth) {
      return Error("elements nest deeper than " + std::to_string(kMaxDepth));
    }
    if (++elements_ > kMaxElements) {
      return Error("more than " + std::to_string(kMaxElements) + " elements");
    }
    ++pos_;  // '<'
    IMGFS_ASSIGN_OR_RETURN(e->name, Name());
    IMGFS_ASSIGN_OR_RETURN(bool empty, SkipAttributes());
    if (empty) {
      return Status::Ok();
    }
    for (;;) {
      if (pos_ >= s_.size()) {
        return Error("element <" + e->name + "> is not closed");
      }
      const char c = s_[pos_];
      if (c == '&') {
        IMGFS_RETURN_IF_ERROR(Entity(&e->text));
      } else if (c != '<') {
        e->text += c;
        ++pos_;
      } else if (Peek("</")) {
        pos_ += 2;
        IMGFS_ASSIGN_OR_RETURN(std::string name, Name());
        SkipSpace();
        if (name != e->name || !Peek('>')) {
          return Error("</" + name + "> does not close <" + e->name + ">");
        }
        ++pos_;
        return Status::Ok();
      } else if (Peek("<!--")) {
        if (!SkipPast("-->")) {
          return Error("unterminated comment");
        }
      } else if (Peek("<![CDATA[")) {
        const size_t start = pos_ + 9;
        if (!SkipPast("]]>")) {
          return Error("unterminated CDATA section");
        }
        e->text.append(s_.substr(start, pos_ - 3 - start));
      } else if (Peek("<?")) {
        if (!SkipPast("?>")) {
          return Error("unterminated processing instruction");
        }
      } else if (Peek("<!")) {
        return UnsupportedError("parallels: DiskDescriptor.xml: declaration inside <" + e->name +
                                "> at byte " + std::to_string(pos_) + " is not read");
      } else {
        IMGFS_RETURN_IF_ERROR(ParseElement(&e->children.emplace_back(), depth + 1));
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  uint64_t elements_ = 0;
};

}  // namespace

const Element* Element::Child(std::string_view n) const {
  for (const Element& c : children) {
    if (c.name == n) {
      return &c;
    }
  }
  return nullptr;
}

std::string_view Element::Trimmed() const {
  std::string_view t = text;
  while (!t.empty() && IsSpace(t.front())) {
    t.remove_prefix(1);
  }
  while (!t.empty() && IsSpace(t.back())) {
    t.remove_suffix(1);
  }
  return t;
}

Result<Element> Parse(std::string_view text) {
  if (text.size() > kMaxInputBytes) {
    return CorruptError("parallels: DiskDescriptor.xml of " + std::to_string(text.size()) +
                        " bytes is larger than 1 MiB");
  }
  return Parser(text).Document();
}

}  // namespace imgfs::parallels::xml
