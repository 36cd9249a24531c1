// SPDX-License-Identifier: MIT
// ReadPartitionTable: decides which scheme a disk carries and hands over to
// the MBR, GPT or APM reader. The order follows Linux (block/partitions):
// GPT (behind a protective MBR), then the Apple map, then the DOS MBR.
#include "core/partition/partition_table.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "core/partition/apm.h"
#include "core/partition/gpt.h"
#include "core/partition/mbr.h"
#include "core/partition/table_builder.h"
#include "core/util/checked.h"

namespace imgfs {
namespace partition {

void AddPartition(std::string_view scheme, uint64_t disk_bytes, uint64_t unit_bytes,
                  uint64_t start_units, uint64_t count_units, Partition p, PartitionTable* table) {
  if (count_units == 0) {
    return;
  }
  auto start = CheckedMul(start_units, unit_bytes);
  auto length = CheckedMul(count_units, unit_bytes);
  if (!start || !length || !RangeWithin(*start, *length, disk_bytes)) {
    table->notes.push_back(std::string(scheme) + ": partition " + std::to_string(p.number) +
                           " (start " + std::to_string(start_units) + ", " +
                           std::to_string(count_units) + " blocks of " +
                           std::to_string(unit_bytes) + " bytes) leaves the disk (" +
                           std::to_string(disk_bytes) + " bytes); left out");
    return;
  }
  p.start_bytes = *start;
  p.length_bytes = *length;
  table->partitions.push_back(std::move(p));
}

void NoteOverlaps(std::string_view scheme, PartitionTable* table) {
  std::vector<const Partition*> by_start;
  by_start.reserve(table->partitions.size());
  for (const Partition& p : table->partitions) {
    by_start.push_back(&p);
  }
  std::sort(by_start.begin(), by_start.end(), [](const Partition* a, const Partition* b) {
    return a->start_bytes != b->start_bytes ? a->start_bytes < b->start_bytes
                                            : a->number < b->number;
  });
  const Partition* furthest = nullptr;  // the earlier partition reaching furthest
  for (const Partition* p : by_start) {
    if (furthest != nullptr && p->start_bytes < furthest->start_bytes + furthest->length_bytes) {
      table->notes.push_back(std::string(scheme) + ": partitions " +
                             std::to_string(furthest->number) + " and " +
                             std::to_string(p->number) + " overlap");
    }
    if (furthest == nullptr ||
        p->start_bytes + p->length_bytes > furthest->start_bytes + furthest->length_bytes) {
      furthest = p;
    }
  }
}

namespace {

Result<PartitionTable> ReadScheme(const BlockDevice& dev) {
  PartitionTable none;
  if (dev.Size() < kMbrSectorBytes) {
    return none;
  }
  std::array<std::byte, kMbrSectorBytes> sector0{};
  IMGFS_RETURN_IF_ERROR(dev.Read(0, sector0));
  const bool signature = HasMbrSignature(sector0);
  auto mbr = signature ? DecodeMbr(sector0) : Result<Mbr>(CorruptError("mbr: no signature"));
  if (mbr.ok() && HasGptProtectiveEntry(*mbr)) {
    return ReadGpt(dev);
  }
  if (LooksLikeApm(dev)) {
    return ReadApm(dev);
  }
  if (!mbr.ok() && HasGptSignature(dev)) {
    IMGFS_ASSIGN_OR_RETURN(PartitionTable table, ReadGpt(dev));
    table.notes.insert(table.notes.begin(),
                       "gpt: sector 0 holds no protective MBR; the GPT header is used anyway");
    return table;
  }
  if (!signature) {
    return none;
  }
  if (!mbr.ok()) {
    none.notes.push_back("sector 0 has the 0x55aa signature but no partition table (" +
                         mbr.status().message() + ")");
    return none;
  }
  const bool all_empty = std::all_of(mbr->entries.begin(), mbr->entries.end(),
                                     [](const MbrEntry& e) { return e.empty(); });
  if (all_empty && LooksLikeVolumeBootSector(sector0)) {
    return none;  // a file system on the whole disk (a "superfloppy")
  }
  PartitionTable table;
  IMGFS_RETURN_IF_ERROR(ReadMbrPartitions(dev, *mbr, &table));
  if (HasGptSignature(dev)) {
    table.notes.push_back(
        "mbr: a GPT header at LBA 1 is ignored: the MBR has no protective (0xee) entry");
  }
  return table;
}

}  // namespace
}  // namespace partition

Result<PartitionTable> ReadPartitionTable(const BlockDevice& dev) {
  IMGFS_ASSIGN_OR_RETURN(PartitionTable table, partition::ReadScheme(dev));
  std::sort(table.partitions.begin(), table.partitions.end(),
            [](const Partition& a, const Partition& b) { return a.number < b.number; });
  partition::NoteOverlaps(SchemeName(table.scheme), &table);
  return table;
}

std::string_view SchemeName(PartitionScheme scheme) {
  switch (scheme) {
    case PartitionScheme::kMbr:
      return "mbr";
    case PartitionScheme::kGpt:
      return "gpt";
    case PartitionScheme::kApm:
      return "apm";
    case PartitionScheme::kNone:
      break;
  }
  return "none";
}

}  // namespace imgfs
