// SPDX-License-Identifier: MIT
// The XML property list a UDIF image carries before its koly trailer, in the
// exact shape hdiutil writes it (which is CoreFoundation's XML plist writer
// output): the XML declaration, Apple's plist DOCTYPE, tab indentation, keys
// sorted, <data> base64 wrapped so that indentation plus text stays within
// 76 columns, and a `resource-fork` dictionary holding the `blkx` array and
// the fixed `plst` entry. See formats/dmg/WRITER.md for the sources.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace imgfs::dmg {

// One `blkx` resource: its name (also written as CFName), its ID (hdiutil
// numbers them from -1), its attributes (0x0050 in every hdiutil image) and
// the encoded `mish` table.
struct PlistBlkx {
  std::string_view name;
  int32_t id = -1;
  uint32_t attributes = 0x0050;
  std::span<const std::byte> mish;
};

// Returns the whole plist document (UTF-8, ending in "</plist>\n").
std::string EmitUdifPlist(std::span<const PlistBlkx> blkx);

// Base64 of `data` in CoreFoundation's <data> layout: lines of at most
// 76 - 8 * indent_tabs characters, each preceded by indent_tabs tabs and
// followed by '\n'. REQUIRES: indent_tabs <= 8.
std::string Base64Lines(std::span<const std::byte> data, unsigned indent_tabs);

// Escapes '&', '<' and '>' as CoreFoundation does for <string> and <key>;
// control characters XML 1.0 cannot carry become '?'.
std::string XmlEscape(std::string_view text);

}  // namespace imgfs::dmg
