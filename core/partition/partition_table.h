// SPDX-License-Identifier: MIT
// Partition tables of a whole-disk BlockDevice: MBR (with extended and
// logical partitions), GPT (primary header, or the backup when the primary is
// damaged; CRC-32 checked) and the Apple Partition Map. Used by `info`,
// `mount --partitions` and the DMG writer (one blkx per partition).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/result.h"

namespace imgfs {

enum class PartitionScheme { kNone, kMbr, kGpt, kApm };

struct Partition {
  // 1-based number used in `<stem>.p<N>.raw`: MBR primaries 1-4 and logical
  // partitions from 5 (the Linux numbering); GPT entry index + 1 (empty
  // entries skipped but not renumbered); APM map entry index (1-based).
  uint32_t number = 0;
  std::string type;       // MBR "0x83"; GPT type GUID; APM "Apple_HFS"
  std::string type_name;  // a human name when known ("Linux filesystem")
  std::string name;       // GPT name (UTF-8), APM name; may be empty
  std::string guid;       // GPT unique partition GUID; empty otherwise
  uint64_t start_bytes = 0;
  uint64_t length_bytes = 0;
  bool bootable = false;  // MBR active flag
};

struct PartitionTable {
  PartitionScheme scheme = PartitionScheme::kNone;
  uint32_t sector_bytes = 512;
  std::vector<Partition> partitions;  // sorted by number
  std::vector<std::string> notes;     // e.g. "primary GPT header damaged; using the backup"
};

// Reads the partition table of `dev`. A disk without a table is
// {kNone, no partitions} (notes may say why a signature was not taken for a
// table). A table that is present but unusable as a whole (GPT with both
// headers damaged, an APM map that leaves the disk) is kCorrupt naming the
// structure; more used entries than kMaxPartitions is kUnsupported.
// Problems confined to one partition are notes, and the other partitions
// stay usable: a partition that leaves the disk is left out (never
// shortened), a broken extended chain ends the logical partitions, a
// damaged primary GPT falls back to the backup. So every listed partition
// lies inside dev.Size() and has length_bytes > 0; overlaps are noted.
// Bounded: at most kMaxPartitions entries and a bounded walk of the
// extended chain. Returns I/O errors of `dev` as they are.
Result<PartitionTable> ReadPartitionTable(const BlockDevice& dev);

inline constexpr size_t kMaxPartitions = 256;

std::string_view SchemeName(PartitionScheme scheme);  // "mbr", "gpt", "apm", "none"

// A read-only window [offset, offset + length) of `base`.
// REQUIRES: base outlives the window; the range lies inside base->Size().
std::unique_ptr<BlockDevice> NewSliceDevice(const BlockDevice* base, uint64_t offset,
                                            uint64_t length);

}  // namespace imgfs
