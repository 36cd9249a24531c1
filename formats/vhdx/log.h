// SPDX-License-Identifier: MIT
// VHDX log replay in memory ([MS-VHDX] 2.3). A VHDX left dirty by a crash
// has a non-zero LogGuid and log entries whose updates (to the BAT and
// metadata, usually) must be applied before the image is read. Instead of
// writing them, ReplayLog finds the active sequence of entries and returns
// a read-only File that shows the image as if they had been written: the
// replayed 4 KiB sectors are read from the log itself when asked for, so
// the memory held is a few words per sector, bounded by the log's size.
#pragma once

#include <cstdint>
#include <memory>

#include "core/io/file.h"
#include "core/result.h"
#include "formats/vhdx/header.h"

namespace imgfs::vhdx {

// 2.3.1 log entry layout.
inline constexpr uint64_t kLogSectorBytes = 4096;
inline constexpr size_t kLogEntryHeaderBytes = 64;
inline constexpr size_t kLogDescriptorBytes = 32;
// Our caps: the largest log replayed (qemu and Windows write 1 MiB logs;
// qemu's log_size option takes more), and the most descriptors applied,
// which bounds the replay map and the entries held while searching (a zero
// descriptor is 32 bytes of log).
inline constexpr uint64_t kMaxLogBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxReplayDescriptors = uint64_t{1} << 20;

struct ReplayResult {
  std::shared_ptr<const File> file;  // the image with the log applied
  uint64_t entries = 0;              // log entries replayed (0: none found)
  uint64_t head_sequence = 0;        // sequence number of the newest one
};

// Replays the log that `header` describes over `file`. Without a LogGuid,
// or without a valid sequence of entries carrying it (a log that was fully
// flushed), returns `file` itself and entries == 0. kCorrupt when a
// descriptor of the active sequence points outside the file's reach or is
// misaligned, or when the file is shorter than the head entry's
// FlushedFileOffset (writes the log depended on were lost); kUnsupported
// past the caps. The result reads from `file`, which it shares.
Result<ReplayResult> ReplayLog(std::shared_ptr<const File> file, const Header& header);

}  // namespace imgfs::vhdx
