// SPDX-License-Identifier: MIT
// The sectors before the FATs: the MBR, the boot sector with its BPB, and
// FAT32's FSInfo (Microsoft FAT specification 1.03, sections 3.1-3.3 and
// 5), laid out as mkfs.fat writes them, with boot code of imgfs's own that
// prints "not a bootable disk".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vvfat/geometry.h"

namespace imgfs::vvfat {

using Sector = std::array<std::byte, kSectorBytes>;

// FAT32 places these in the reserved area (BPB_FSInfo, BPB_BkBootSec).
inline constexpr uint32_t kFsInfoSector = 1;
inline constexpr uint32_t kBackupBootSector = 6;

// The 11-byte volume label, space padded; "NO NAME    " when empty.
using VolumeLabel = std::array<char, 11>;

Sector EncodeBootSector(const Geometry& g, uint32_t serial, const VolumeLabel& label);
// FSI_Free_Count and FSI_Nxt_Free.
Sector EncodeFsInfo(uint32_t free_clusters, uint32_t next_free);
// One primary partition over the volume, of the type the FAT type and size
// call for (0x01, 0x04, 0x06, 0x0e, 0x0b, 0x0c). REQUIRES: partition_start > 0.
Sector EncodeMbr(const Geometry& g, uint32_t disk_signature);
// The MBR partition type for this volume.
uint8_t PartitionType(const Geometry& g);

// The reserved area of the volume: boot sector, and on FAT32 the FSInfo
// and their backups at sector 6 and 7.
std::vector<std::byte> EncodeReservedArea(const Geometry& g, uint32_t serial,
                                          const VolumeLabel& label, uint32_t free_clusters,
                                          uint32_t next_free);

}  // namespace imgfs::vvfat
