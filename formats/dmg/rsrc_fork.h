// SPDX-License-Identifier: MIT
// The classic Mac OS resource fork ("Inside Macintosh: More Macintosh
// Toolbox", Resource Manager, "Format of a Resource Fork"), which UDIF
// images written before the XML plist (and some tools since) carry instead
// of, or besides, the plist: the blkx resources hold the mish tables. All
// fields are big-endian; offsets in the map are relative to the map or to
// its type and name lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace imgfs::dmg {

inline constexpr uint32_t kResourceTypeBlkx = 0x626c6b78;  // 'blkx'

struct Resource {
  uint32_t type = 0;
  int16_t id = 0;
  uint8_t attributes = 0;
  std::string name;  // the Pascal string, MacRoman bytes (ASCII in practice)
  std::vector<std::byte> data;
};

// Every resource of `type` in the fork, in map order. Each offset, count and
// length is checked against fork.size(), so the result is bounded by it.
// kCorrupt names the structure and offset.
Result<std::vector<Resource>> ParseResourceFork(std::span<const std::byte> fork, uint32_t type);

// Lays out a fork holding `resources` (any types, grouped by type in order
// of first appearance). For writers and tests.
std::vector<std::byte> EncodeResourceFork(const std::vector<Resource>& resources);

}  // namespace imgfs::dmg
