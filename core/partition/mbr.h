// SPDX-License-Identifier: MIT
// The DOS master boot record (MBR) and its extended boot records (EBR).
// Layout: four 16-byte entries at 0x1be and the 0x55 0xaa signature at
// 0x1fe of sector 0; an extended partition (types 0x05, 0x0f, 0x85) holds a
// chain of EBRs, each with one logical partition (relative to the EBR) and
// a link to the next EBR (relative to the start of the extended partition).
// Numbering follows Linux: primaries 1-4 by slot, logical partitions from 5
// in chain order. Sector size is 512 bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/block_device.h"
#include "core/partition/partition_table.h"
#include "core/result.h"
#include "core/util/sector.h"

namespace imgfs::partition {

inline constexpr uint64_t kMbrSectorBytes = kSectorBytes;
inline constexpr size_t kMbrEntriesOffset = 0x1be;  // first of four partition entries
inline constexpr size_t kMbrEntryBytes = 16;
inline constexpr size_t kMbrEntryCount = 4;
inline constexpr size_t kMbrSignatureOffset = 0x1fe;  // 0x55 0xaa
inline constexpr uint8_t kMbrTypeEmpty = 0x00;
inline constexpr uint8_t kMbrTypeGptProtective = 0xee;
// Longest chain of extended boot records walked. Every EBR holds one logical
// partition, and the table holds at most kMaxPartitions.
inline constexpr size_t kMaxLogicalPartitions = kMaxPartitions - kMbrEntryCount;

struct MbrEntry {
  uint8_t status = 0;  // 0x80 active (bootable), 0x00 inactive; CHS fields ignored
  uint8_t type = kMbrTypeEmpty;
  uint32_t start_lba = 0;  // relative to the MBR or EBR that holds the entry
  uint32_t sector_count = 0;

  bool empty() const { return type == kMbrTypeEmpty || sector_count == 0; }
};

struct Mbr {
  std::array<MbrEntry, kMbrEntryCount> entries;
};

// True when the 512-byte `sector` ends with the 0x55 0xaa signature.
// REQUIRES: sector.size() >= kMbrSectorBytes.
bool HasMbrSignature(std::span<const std::byte> sector);

// Decodes the four entries of an MBR or EBR sector. kCorrupt when the
// signature is missing or a status byte is neither 0x00 nor 0x80 (then the
// sector is a boot sector of something else, as Linux decides too).
// REQUIRES: sector.size() >= kMbrSectorBytes.
Result<Mbr> DecodeMbr(std::span<const std::byte> sector);

bool IsExtendedType(uint8_t type);

// True when an entry is the 0xee protective (or hybrid) entry of a GPT disk.
bool HasGptProtectiveEntry(const Mbr& mbr);

// True for a volume boot sector (FAT, exFAT, NTFS) written over sector 0 of
// a disk with no partition table: it carries 0x55aa too.
bool LooksLikeVolumeBootSector(std::span<const std::byte> sector);

// Reads the partitions of an MBR disk whose sector 0 decoded as `mbr`:
// primaries, then every extended chain. Problems in the chain (a loop, an
// EBR outside its extended partition or without a signature, too many
// logical partitions) stop the walk with a note; the partitions found so
// far are kept. Returns only I/O errors of `dev`.
Status ReadMbrPartitions(const BlockDevice& dev, const Mbr& mbr, PartitionTable* table);

// fdisk's name for a partition type ("Linux", "W95 FAT32 (LBA)"), or "".
std::string_view MbrTypeName(uint8_t type);

}  // namespace imgfs::partition
