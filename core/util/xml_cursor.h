// SPDX-License-Identifier: MIT
// A bounded XML lexer that the format readers build their documents on
// (DMG plists, Parallels DiskDescriptor.xml). It walks the text once, with no
// allocation beyond the names and text it hands back: tags (attributes
// skipped, quotes respected), character data with the five predefined
// entities and numeric character references decoded, CDATA, comments,
// processing instructions, the XML declaration, a byte order mark and a
// DOCTYPE. Any entity declaration is refused (kUnsupported), so entity
// bombs and external entities cannot exist; every other malformation is
// kCorrupt. Every message starts with the caller's prefix and names the
// byte offset. Depth and element caps belong to the caller's grammar.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace imgfs {

class XmlCursor {
 public:
  struct Tag {
    std::string name;
    bool empty = false;  // <name/>
  };

  // `prefix` starts every error message, e.g. "dmg: plist: ".
  XmlCursor(std::string_view text, std::string prefix) : s_(text), prefix_(std::move(prefix)) {}

  // A byte order mark, the XML declaration, comments, processing
  // instructions and one DOCTYPE, whose internal subset is scanned only to
  // refuse entity declarations.
  Status SkipProlog();
  // Whitespace, comments and processing instructions.
  Status SkipMisc();
  // "<name attrs...>" or "<name .../>" at the cursor.
  Result<Tag> OpenTag();
  // "</name>" at the cursor (whitespace allowed before '>').
  Status CloseTag(std::string_view name);
  // Appends character data (references decoded, CDATA, comments and
  // processing instructions skipped) up to the next tag, and stops at its
  // '<'. Fails at the end of input (naming `element`) and on declarations.
  Status AppendText(std::string_view element, std::string* out);
  // AppendText, then the element's close tag.
  Result<std::string> Text(std::string_view name);

  bool AtCloseTag() const { return StartsWith("</"); }
  bool AtTag() const { return pos_ < s_.size() && s_[pos_] == '<'; }
  bool AtEnd() const { return pos_ == s_.size(); }
  size_t pos() const { return pos_; }

  // kCorrupt with the prefix and the byte offset.
  Status Error(const std::string& what) const;

 private:
  bool StartsWith(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }
  void SkipSpace();
  Status SkipPast(std::string_view end, const char* what);
  Status Reference(std::string* out);

  std::string_view s_;
  std::string prefix_;
  size_t pos_ = 0;
};

}  // namespace imgfs
