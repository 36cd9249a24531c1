// SPDX-License-Identifier: MIT
// A small, bounded XML reader for DiskDescriptor.xml, on the shared lexer in
// core/util/xml_cursor.h: elements, their text
// (the five predefined entities and numeric character references decoded),
// comments, CDATA, processing instructions and a DOCTYPE without an
// internal subset. Attributes are skipped (the descriptor keeps nothing in
// them that a reader needs). Entity declarations are refused, and input
// size, depth and element count are capped, so a hostile descriptor fails
// fast in memory bounded by a small multiple of its size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace imgfs::parallels::xml {

struct Element {
  std::string name;
  std::string text;  // the element's own character data, concatenated
  std::vector<Element> children;

  // The first child named `name`, or nullptr.
  const Element* Child(std::string_view name) const;
  // Text with surrounding whitespace removed.
  std::string_view Trimmed() const;
};

// A descriptor is a few KiB; 1 MiB holds thousands of snapshots.
inline constexpr uint64_t kMaxInputBytes = uint64_t{1} << 20;
// Real descriptors nest 5 levels.
inline constexpr uint32_t kMaxDepth = 32;
inline constexpr uint64_t kMaxElements = 100000;

// Parses a whole document with one root element. kCorrupt (malformed XML,
// a cap exceeded) or kUnsupported (entity declarations), with a message
// naming the byte offset.
Result<Element> Parse(std::string_view text);

}  // namespace imgfs::parallels::xml
