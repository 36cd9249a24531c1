// SPDX-License-Identifier: MIT
// Planning a FAT volume: type, cluster size, FAT size and disk size
// (Microsoft "FAT: General Overview of On-Disk Format" 1.03, sections 3 and
// 4). The FAT type is never guessed: it follows from the cluster count
// (fewer than 4085 clusters is FAT12, fewer than 65525 is FAT16, else
// FAT32), and the planner picks sizes whose count lands in the type wanted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/result.h"

namespace imgfs::vvfat {

inline constexpr uint32_t kSectorBytes = 512;
// Cluster-count limits of the FAT specification, section 3.5.
inline constexpr uint64_t kMaxFat12Clusters = 4084;
inline constexpr uint64_t kMaxFat16Clusters = 65524;
inline constexpr uint64_t kMaxFat32Clusters = 0x0ffffff5 - 2;  // 0x0ffffff6.. are reserved
// Cluster numbers start at 2 (entries 0 and 1 of the FAT are reserved).
inline constexpr uint32_t kFirstCluster = 2;
// Where the partition starts on a disk with an MBR: 1 MiB, as fdisk does.
inline constexpr uint32_t kPartitionStartSectors = 2048;
// The biggest cluster imgfs picks by itself; 64 KiB only when asked.
inline constexpr uint32_t kMaxDefaultClusterBytes = 32768;
inline constexpr uint32_t kMaxClusterBytes = 65536;

enum class FatType : uint8_t { kFat12 = 12, kFat16 = 16, kFat32 = 32 };

// The type a cluster count makes (FAT specification 3.5).
FatType TypeForClusterCount(uint64_t clusters);

struct Geometry {
  FatType type = FatType::kFat16;
  uint32_t sectors_per_cluster = 1;
  uint32_t reserved_sectors = 1;
  uint32_t fat_count = 2;
  uint32_t fat_sectors = 0;   // one FAT
  uint32_t root_entries = 0;  // FAT12/16 fixed root directory; 0 on FAT32
  uint32_t volume_sectors = 0;
  uint32_t cluster_count = 0;    // data clusters, numbered from 2
  uint32_t partition_start = 0;  // sectors before the volume (0: no MBR)
  uint8_t media = 0xf8;
  uint16_t sectors_per_track = 63;
  uint16_t heads = 255;
  bool floppy = false;

  uint32_t cluster_bytes() const { return sectors_per_cluster * kSectorBytes; }
  uint32_t root_sectors() const { return (root_entries * 32 + kSectorBytes - 1) / kSectorBytes; }
  // Sector numbers within the volume.
  uint32_t fat_start() const { return reserved_sectors; }
  uint32_t root_start() const { return reserved_sectors + fat_count * fat_sectors; }
  uint32_t data_start() const { return root_start() + root_sectors(); }
  uint64_t volume_offset() const { return uint64_t{partition_start} * kSectorBytes; }
  uint64_t disk_bytes() const {
    return (uint64_t{partition_start} + volume_sectors) * kSectorBytes;
  }
  // Bytes of one FAT that hold entries (the rest of its sectors is zero).
  uint64_t fat_entry_bytes() const;
};

// Sets fat_sectors and cluster_count from the other fields: the smallest
// FAT that holds an entry for every cluster that fits beside it.
void SolveFat(Geometry* g);

// What the tree needs of a volume.
struct Needs {
  // Clusters of `cluster_bytes` the files and the directories other than
  // the root take.
  std::function<uint64_t(uint64_t cluster_bytes)> clusters;
  uint64_t data_bytes = 0;    // file bytes, for the default free space
  uint32_t root_entries = 0;  // 32-byte entries of the root directory
};

struct PlanOptions {
  std::optional<FatType> type;
  std::optional<uint64_t> disk_bytes;     // --size: the whole disk
  std::optional<uint32_t> cluster_bytes;  // --cluster-size
  std::optional<uint64_t> floppy_bytes;   // --floppy: 360K ... 2.88M
  bool mbr = true;
};

// The standard floppy sizes --floppy accepts, in bytes.
bool IsFloppySize(uint64_t bytes);

// Plans the volume. Without disk_bytes the disk holds the tree plus
// free space of 1 MiB + 1/8 of the file bytes, grown to the type's least
// cluster count. Fails (kNoSpace / kInvalidArgument) with a message saying
// what would fit.
Result<Geometry> PlanGeometry(const PlanOptions& options, const Needs& needs);

std::string FatTypeName(FatType type);

}  // namespace imgfs::vvfat
