// SPDX-License-Identifier: MIT
// Internal helpers shared by the MBR, GPT and APM readers: the one rule for
// partitions that leave the disk, and sector arithmetic that cannot overflow.
// Not part of the public interface (see partition_table.h).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/partition/partition_table.h"

namespace imgfs::partition {

// Sets p.start_bytes/p.length_bytes from `start_units` and `count_units`
// (sectors or blocks of `unit_bytes`) and adds `p` to `table` when it is
// non-empty and lies inside [0, disk_bytes). A partition that leaves the
// disk (or whose byte range overflows 64 bits) is left out and a note names
// it: the other partitions stay usable (a truncated copy of a disk still
// shows what it holds), and no window ever reads past the device.
// Zero-length entries are skipped silently, as Linux skips them.
void AddPartition(std::string_view scheme, uint64_t disk_bytes, uint64_t unit_bytes,
                  uint64_t start_units, uint64_t count_units, Partition p, PartitionTable* table);

// Appends a note for each pair of partitions that overlap (start order).
void NoteOverlaps(std::string_view scheme, PartitionTable* table);

}  // namespace imgfs::partition
