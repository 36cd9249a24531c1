// SPDX-License-Identifier: MIT
// A minimal, bounded parser for Apple XML property lists, on the shared lexer
// in core/util/xml_cursor.h (the UDIF resource
// plist and the sparse bundle Info.plist): dict, array, key, string, data
// (base64), integer, true, false, date and real; the five predefined
// entities and numeric character references; comments, CDATA, the XML
// declaration and a DOCTYPE without entity declarations. Any <!ENTITY is
// refused, so entity-expansion bombs cannot exist, and depth, element count,
// input size and decoded data size are capped, so a hostile plist fails fast
// with memory bounded by a small multiple of its own size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace imgfs::dmg::plist {

enum class Type { kDict, kArray, kString, kData, kInteger, kBool, kDate, kReal };

struct DictEntry;

struct Value {
  Type type = Type::kString;
  // kString, kDate and kReal: the text; kData: the decoded bytes.
  std::string text;
  int64_t integer = 0;
  bool boolean = false;
  // In document order. DictEntry, not std::pair<std::string, Value>: a pair
  // of an incomplete type is ill-formed (clang refuses it; GCC lets it pass).
  std::vector<DictEntry> dict;
  std::vector<Value> array;

  // The first value under `key` in a dict, or nullptr (also for non-dicts).
  const Value* Find(std::string_view key) const;
};

struct DictEntry {
  std::string key;
  Value value;
};

struct Limits {
  // Plists nest a handful of levels; 64 is far past any real one and keeps
  // the recursive descent's stack use small.
  uint32_t max_depth = 64;
  // A dmg plist has ~6 elements per blkx entry; 1 Mi elements is thousands
  // of partitions and still bounds node memory to a few hundred MiB.
  uint64_t max_elements = uint64_t{1} << 20;
  // The XML itself: a 4 TiB UDZO image in 128 KiB chunks has ~32 Mi chunks
  // of 40 bytes; its base64 is ~1.7 GiB. 512 MiB covers every image the
  // tests and the wild have shown, and bounds what a bomb can claim.
  uint64_t max_input_bytes = uint64_t{512} << 20;
  // Decoded <data> bytes, summed over the document.
  uint64_t max_data_bytes = uint64_t{384} << 20;
};

// Parses a whole document (<plist> root with one value). Errors are
// kCorrupt (malformed XML, bad base64, integer overflow, a cap exceeded) or
// kUnsupported (entity declarations, unknown element), with a message
// naming the byte offset.
Result<Value> Parse(std::string_view xml, const Limits& limits = {});

}  // namespace imgfs::dmg::plist
