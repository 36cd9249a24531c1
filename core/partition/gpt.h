// SPDX-License-Identifier: MIT
// GUID Partition Table, UEFI Specification 2.10 section 5.3: a header at LBA
// 1 (the primary) and at the last LBA (the backup), each pointing at an
// array of partition entries; both protected by CRC-32. Little-endian.
// Logical blocks are 512 bytes, or 4096 when a header is found there.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/block_device.h"
#include "core/partition/partition_table.h"
#include "core/result.h"
#include "core/util/guid.h"
#include "core/util/utf16.h"

namespace imgfs::partition {

// UEFI 5.3.2 table 5.21: GPT header fields.
inline constexpr size_t kGptSignatureOffset = 0;  // "EFI PART"
inline constexpr size_t kGptRevisionOffset = 8;
inline constexpr size_t kGptHeaderSizeOffset = 12;
inline constexpr size_t kGptHeaderCrcOffset = 16;
inline constexpr size_t kGptMyLbaOffset = 24;
inline constexpr size_t kGptAlternateLbaOffset = 32;
inline constexpr size_t kGptFirstUsableLbaOffset = 40;
inline constexpr size_t kGptLastUsableLbaOffset = 48;
inline constexpr size_t kGptDiskGuidOffset = 56;
inline constexpr size_t kGptEntriesLbaOffset = 72;
inline constexpr size_t kGptEntryCountOffset = 80;
inline constexpr size_t kGptEntryBytesOffset = 84;
inline constexpr size_t kGptEntriesCrcOffset = 88;
inline constexpr uint32_t kGptMinHeaderBytes = 92;
inline constexpr std::string_view kGptSignature = "EFI PART";

// UEFI 5.3.3 table 5.22: partition entry fields.
inline constexpr size_t kGptEntryTypeGuidOffset = 0;
inline constexpr size_t kGptEntryUniqueGuidOffset = 16;
inline constexpr size_t kGptEntryFirstLbaOffset = 32;
inline constexpr size_t kGptEntryLastLbaOffset = 40;
inline constexpr size_t kGptEntryAttributesOffset = 48;
inline constexpr size_t kGptEntryNameOffset = 56;
inline constexpr size_t kGptEntryNameBytes = 72;  // 36 UTF-16LE code units
inline constexpr uint32_t kGptMinEntryBytes = 128;
// Attribute bit 2: legacy BIOS bootable (shown as Partition::bootable).
inline constexpr uint64_t kGptAttrLegacyBootable = uint64_t{1} << 2;

// Bounds on what a header may ask us to read. The spec allows entries of
// 128 * 2^n bytes; every known writer uses 128, so 4 KiB is generous. The
// array is 16 KiB (128 entries) in practice; 4 MiB lets any sane table
// through while bounding the allocation.
inline constexpr uint32_t kGptMaxEntryBytes = 4096;
inline constexpr uint64_t kGptMaxEntryArrayBytes = 4 << 20;

// GUIDs and UTF-16 names are shared with other Microsoft formats (VHDX).
using imgfs::Guid;
using imgfs::GuidToString;
using imgfs::Utf16LeToUtf8;

struct GptHeader {
  uint32_t revision = 0;
  uint32_t header_bytes = 0;
  uint32_t header_crc = 0;
  uint64_t my_lba = 0;
  uint64_t alternate_lba = 0;
  uint64_t first_usable_lba = 0;
  uint64_t last_usable_lba = 0;
  Guid disk_guid{};
  uint64_t entries_lba = 0;
  uint32_t entry_count = 0;
  uint32_t entry_bytes = 0;
  uint32_t entries_crc = 0;
};

// Decodes and checks the header in `block` (one logical block) read at
// `lba`: signature, revision 1.x, header size, header CRC-32, my_lba ==
// lba, usable range order, entry size and array size bounds. kCorrupt (or
// kUnsupported for a revision 2+ or an entry array over the caps) naming
// the check that failed.
Result<GptHeader> DecodeGptHeader(std::span<const std::byte> block, uint64_t lba);

struct GptEntry {
  Guid type_guid{};
  Guid unique_guid{};
  uint64_t first_lba = 0;
  uint64_t last_lba = 0;  // inclusive
  uint64_t attributes = 0;
  std::string name;   // UTF-8
  bool used() const;  // type GUID is not all zeros
};

// REQUIRES: entry.size() >= kGptMinEntryBytes.
GptEntry DecodeGptEntry(std::span<const std::byte> entry);

// util-linux's name for a type GUID ("EFI System"), or "".
// `guid` is in GuidToString's form (upper case).
std::string_view GptTypeName(std::string_view guid);

// True when the block at LBA 1 (for 512- or 4096-byte blocks) starts with
// the "EFI PART" signature. Reads at most two blocks; I/O errors are false.
bool HasGptSignature(const BlockDevice& dev);

// Reads the GPT of `dev`: the primary when it and its entry array check out,
// else the backup (at the primary's alternate LBA, or the last LBA) with a
// note. Tries 512-byte blocks, then 4096. A damaged backup behind a good
// primary is a note. kCorrupt naming both headers' problems when neither
// is usable. Used entries over kMaxPartitions are kUnsupported.
Result<PartitionTable> ReadGpt(const BlockDevice& dev);

}  // namespace imgfs::partition
