// SPDX-License-Identifier: MIT
// A UDIF image as the reader sees it once opened: the koly trailer, the blkx
// entries (from the XML plist, or from the binary resource fork when the
// koly names no XML), and the file. A segmented image (NAME.dmg plus
// NAME.NNN.dmgpart files, see segments.h) is opened from its first segment
// and reads chunk data from the segments' data forks concatenated. Immutable
// after LoadUdif, so devices and checks share it through std::shared_ptr
// without locks.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"
#include "formats/dmg/segments.h"
#include "formats/dmg/udif.h"
#include "formats/format_driver.h"

namespace imgfs::dmg {

// The XML plist or resource fork is read whole into memory; this caps it.
// It matches the plist parser's input cap (see plist.h for the reasoning).
inline constexpr uint64_t kMaxResourceBytes = uint64_t{512} << 20;

struct UdifImage {
  // Where chunk data is read: the image file, or for a segmented image the
  // segments' data forks one after another (a concatenated File named as
  // the first segment).
  std::shared_ptr<const File> file;
  uint64_t file_size = 0;  // of `file`
  // The data fork inside `file`: the koly's for one file; [0, sum of the
  // segments' data fork lengths) for a segmented image.
  uint64_t data_fork_offset = 0;
  uint64_t data_fork_length = 0;
  Koly koly;                        // of the opened file (the first segment)
  std::vector<BlkxEntry> entries;   // in resource order
  bool from_resource_fork = false;  // true: no XML plist, blkx from the rsrc fork
  // Empty for a one-file image; else every segment in order, first included.
  std::vector<SegmentFile> segments;
};

// Reads the trailer and the blkx entries. kCorrupt when the koly points
// outside the file or a resource is malformed; kUnsupported for unknown
// versions. A segmented image (segment_count > 1) is opened when `ctx` can
// open files next to ctx->path (its open_aux_file): the other segments are
// found by name (segments.h) and each one's koly is checked (kNotFound or
// kCorrupt naming the segment); without `ctx` it is kUnsupported. Opening a
// later segment (a .dmgpart) is kInvalidArgument naming the first segment.
Result<std::shared_ptr<const UdifImage>> LoadUdif(std::shared_ptr<const File> file,
                                                  const OpenContext* ctx = nullptr);

// The blkx entries of a UDIF XML plist (resource-fork > blkx array).
Result<std::vector<BlkxEntry>> BlkxFromPlist(std::string_view xml);

// The blkx entries of a binary resource fork.
Result<std::vector<BlkxEntry>> BlkxFromResourceFork(std::span<const std::byte> fork);

}  // namespace imgfs::dmg
