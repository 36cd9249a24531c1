// SPDX-License-Identifier: MIT
// The bounded XML reader (see xml.h).
#include "formats/parallels/xml.h"

#include <utility>

#include "core/util/xml_cursor.h"

namespace imgfs::parallels::xml {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Parser {
 public:
  explicit Parser(std::string_view s) : xml_(s, "parallels: DiskDescriptor.xml: ") {}

  Result<Element> Document() {
    IMGFS_RETURN_IF_ERROR(xml_.SkipProlog());
    if (!xml_.AtTag()) {
      return xml_.Error("no root element");
    }
    Element root;
    IMGFS_RETURN_IF_ERROR(ParseElement(&root, 1));
    IMGFS_RETURN_IF_ERROR(xml_.SkipMisc());
    if (!xml_.AtEnd()) {
      return xml_.Error("content after the root element");
    }
    return root;
  }

 private:
  // An element with mixed content: its text concatenated, its children in
  // order.
  Status ParseElement(Element* e, uint32_t depth) {
    if (depth > kMaxDepth) {
      return xml_.Error("elements nest deeper than " + std::to_string(kMaxDepth));
    }
    if (++elements_ > kMaxElements) {
      return xml_.Error("more than " + std::to_string(kMaxElements) + " elements");
    }
    IMGFS_ASSIGN_OR_RETURN(XmlCursor::Tag tag, xml_.OpenTag());
    e->name = std::move(tag.name);
    if (tag.empty) {
      return Status::Ok();
    }
    for (;;) {
      IMGFS_RETURN_IF_ERROR(xml_.AppendText(e->name, &e->text));
      if (xml_.AtCloseTag()) {
        return xml_.CloseTag(e->name);
      }
      IMGFS_RETURN_IF_ERROR(ParseElement(&e->children.emplace_back(), depth + 1));
    }
  }

  XmlCursor xml_;
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
