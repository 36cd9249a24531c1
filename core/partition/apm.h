// SPDX-License-Identifier: MIT
// Apple Partition Map, as described in Inside Macintosh: Devices (1994),
// "SCSI Manager", Driver Descriptor Record and Partition Map Entry. Block 0
// holds the driver descriptor record ('ER', block size, block count); the
// map occupies blocks 1..N, one 'PM' entry per block, and every entry
// repeats N. Big-endian. Partitions are numbered by map entry (1-based),
// as Linux numbers them, so the map itself is partition 1 and free-space
// entries (Apple_Free) are listed too: hdiutil's APM images and DMG blkx
// lists follow the same entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/block_device.h"
#include "core/partition/partition_table.h"
#include "core/result.h"

namespace imgfs::partition {

// Driver Descriptor Record (block 0).
inline constexpr uint16_t kApmDdrSignature = 0x4552;  // 'ER'
inline constexpr size_t kApmDdrSignatureOffset = 0;   // sbSig
inline constexpr size_t kApmDdrBlockBytesOffset = 2;  // sbBlkSize
inline constexpr size_t kApmDdrBlockCountOffset = 4;  // sbBlkCount

// Partition Map Entry (blocks 1..N).
inline constexpr uint16_t kApmEntrySignature = 0x504d;   // 'PM'
inline constexpr size_t kApmEntrySignatureOffset = 0;    // pmSig
inline constexpr size_t kApmEntryMapCountOffset = 4;     // pmMapBlkCnt
inline constexpr size_t kApmEntryStartOffset = 8;        // pmPyPartStart (blocks)
inline constexpr size_t kApmEntryBlockCountOffset = 12;  // pmPartBlkCnt
inline constexpr size_t kApmEntryNameOffset = 16;        // pmPartName[32]
inline constexpr size_t kApmEntryTypeOffset = 48;        // pmParType[32]
inline constexpr size_t kApmStringBytes = 32;
inline constexpr size_t kApmEntryBytes = 512;  // only the first 136 bytes are used

// Block sizes accepted from the DDR: 512 (disks, hdiutil) up to 4096;
// 2048 is common on CDs.
inline constexpr uint32_t kApmMinBlockBytes = 512;
inline constexpr uint32_t kApmMaxBlockBytes = 4096;

struct ApmDriverDescriptor {
  uint16_t block_bytes = 0;  // 0 in some images: taken as 512
  uint32_t block_count = 0;
};

struct ApmEntry {
  uint32_t map_entry_count = 0;
  uint32_t start_block = 0;
  uint32_t block_count = 0;
  std::string name;  // printable ASCII; other bytes become '?'
  std::string type;  // "Apple_HFS", "Apple_partition_map", "Apple_Free", ...
};

// kCorrupt without the 'ER' signature. REQUIRES: block.size() >= 512.
Result<ApmDriverDescriptor> DecodeApmDriverDescriptor(std::span<const std::byte> block);

// kCorrupt without the 'PM' signature. REQUIRES: block.size() >= 512.
Result<ApmEntry> DecodeApmEntry(std::span<const std::byte> block);

// True when block 0 carries 'ER' and a 'PM' entry follows (at the DDR's
// block size, or 512 bytes on). I/O errors are false.
bool LooksLikeApm(const BlockDevice& dev);

// Reads every map entry. The map's entry count is bounded (kUnsupported
// over kMaxPartitions; kCorrupt when zero or when the map leaves the disk).
// An entry without the 'PM' signature ends the map early with a note.
Result<PartitionTable> ReadApm(const BlockDevice& dev);

// A human name for well-known type strings ("Apple HFS/HFS+"), or "".
std::string_view ApmTypeName(std::string_view type);

}  // namespace imgfs::partition
