// SPDX-License-Identifier: MIT
// A UDIF image as the reader sees it once opened: the koly trailer, the blkx
// entries (from the XML plist, or from the binary resource fork when the
// koly names no XML), and the file. Immutable after LoadUdif, so devices and
// checks share it through std::shared_ptr without locks.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg {

// The XML plist or resource fork is read whole into memory; this caps it.
// It matches the plist parser's input cap (see plist.h for the reasoning).
inline constexpr uint64_t kMaxResourceBytes = uint64_t{512} << 20;

struct UdifImage {
  std::shared_ptr<const File> file;
  uint64_t file_size = 0;
  Koly koly;
  std::vector<BlkxEntry> entries;   // in resource order
  bool from_resource_fork = false;  // true: no XML plist, blkx from the rsrc fork
};

// Reads the trailer and the blkx entries. kCorrupt when the koly points
// outside the file or a resource is malformed; kUnsupported for segmented
// images (segment_count > 1) and unknown versions.
Result<std::shared_ptr<const UdifImage>> LoadUdif(std::shared_ptr<const File> file);

// The blkx entries of a UDIF XML plist (resource-fork > blkx array).
Result<std::vector<BlkxEntry>> BlkxFromPlist(std::string_view xml);

// The blkx entries of a binary resource fork.
Result<std::vector<BlkxEntry>> BlkxFromResourceFork(std::span<const std::byte> fork);

}  // namespace imgfs::dmg
