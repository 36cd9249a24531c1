// SPDX-License-Identifier: MIT
// Apple Partition Map reader (see apm.h).
#include "core/partition/apm.h"

#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "core/partition/table_builder.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::partition {
namespace {

constexpr uint32_t kDefaultBlockBytes = 512;

std::string AsciiField(std::span<const std::byte> field) {
  std::string s;
  for (std::byte b : field) {
    const auto c = std::to_integer<unsigned char>(b);
    if (c == 0) {
      break;
    }
    // Names are Mac OS Roman in old maps; anything outside printable ASCII
    // is shown as '?' rather than guessed.
    s.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return s;
}

bool ValidBlockBytes(uint32_t b) {
  return b >= kApmMinBlockBytes && b <= kApmMaxBlockBytes && (b & (b - 1)) == 0;
}

// True when the block at `offset` starts with 'PM'. I/O errors are false.
bool EntryAt(const BlockDevice& dev, uint64_t offset) {
  std::byte sig[2];
  if (offset + sizeof sig > dev.Size() || !dev.Read(offset, sig).ok()) {
    return false;
  }
  return LoadBE16(sig) == kApmEntrySignature;
}

// The spacing of map entries: the DDR's block size, or 512 when the
// entries are found there instead. nullopt when neither holds an entry.
std::optional<uint32_t> EntrySpacing(const BlockDevice& dev, const ApmDriverDescriptor& ddr) {
  const uint32_t declared = ddr.block_bytes == 0 ? kDefaultBlockBytes : ddr.block_bytes;
  if (ValidBlockBytes(declared) && EntryAt(dev, declared)) {
    return declared;
  }
  if (EntryAt(dev, kDefaultBlockBytes)) {
    return kDefaultBlockBytes;
  }
  return std::nullopt;
}

Result<ApmDriverDescriptor> ReadDdr(const BlockDevice& dev) {
  if (dev.Size() < kApmEntryBytes) {
    return CorruptError("apm: the disk is smaller than one block");
  }
  std::array<std::byte, kApmEntryBytes> block{};
  IMGFS_RETURN_IF_ERROR(dev.Read(0, block));
  return DecodeApmDriverDescriptor(block);
}

}  // namespace

Result<ApmDriverDescriptor> DecodeApmDriverDescriptor(std::span<const std::byte> block) {
  const std::byte* p = block.data();
  if (LoadBE16(p + kApmDdrSignatureOffset) != kApmDdrSignature) {
    return CorruptError("apm: no driver descriptor signature (ER) in block 0");
  }
  ApmDriverDescriptor d;
  d.block_bytes = LoadBE16(p + kApmDdrBlockBytesOffset);
  d.block_count = LoadBE32(p + kApmDdrBlockCountOffset);
  return d;
}

Result<ApmEntry> DecodeApmEntry(std::span<const std::byte> block) {
  const std::byte* p = block.data();
  if (LoadBE16(p + kApmEntrySignatureOffset) != kApmEntrySignature) {
    return CorruptError("apm: no partition map entry signature (PM)");
  }
  ApmEntry e;
  e.map_entry_count = LoadBE32(p + kApmEntryMapCountOffset);
  e.start_block = LoadBE32(p + kApmEntryStartOffset);
  e.block_count = LoadBE32(p + kApmEntryBlockCountOffset);
  e.name = AsciiField(block.subspan(kApmEntryNameOffset, kApmStringBytes));
  e.type = AsciiField(block.subspan(kApmEntryTypeOffset, kApmStringBytes));
  return e;
}

bool LooksLikeApm(const BlockDevice& dev) {
  auto ddr = ReadDdr(dev);
  return ddr.ok() && EntrySpacing(dev, *ddr).has_value();
}

Result<PartitionTable> ReadApm(const BlockDevice& dev) {
  IMGFS_ASSIGN_OR_RETURN(ApmDriverDescriptor ddr, ReadDdr(dev));
  PartitionTable table;
  table.scheme = PartitionScheme::kApm;
  auto spacing = EntrySpacing(dev, ddr);
  if (!spacing) {
    return CorruptError("apm: no partition map entry (PM) after the driver descriptor");
  }
  const uint32_t block_bytes = *spacing;
  if (block_bytes != ddr.block_bytes && ddr.block_bytes != 0) {
    table.notes.push_back("apm: the driver descriptor says blocks of " +
                          std::to_string(ddr.block_bytes) +
                          " bytes but the map uses 512; using 512");
  }
  table.sector_bytes = block_bytes;
  std::vector<std::byte> block(block_bytes);
  const uint64_t disk_bytes = dev.Size();
  IMGFS_RETURN_IF_ERROR(dev.Read(block_bytes, block));
  IMGFS_ASSIGN_OR_RETURN(ApmEntry first, DecodeApmEntry(block));
  const uint32_t count = first.map_entry_count;
  if (count == 0) {
    return CorruptError("apm: map entry at block 1 says the map has 0 entries");
  }
  if (uint64_t{count} + 1 > disk_bytes / block_bytes) {
    return CorruptError("apm: map of " + std::to_string(count) + " entries of " +
                        std::to_string(block_bytes) + " bytes leaves the disk (size " +
                        Hex(disk_bytes) + ")");
  }
  if (count > kMaxPartitions) {
    return UnsupportedError("apm: map has " + std::to_string(count) + " entries; at most " +
                            std::to_string(kMaxPartitions) + " are supported");
  }
  for (uint32_t i = 1; i <= count; ++i) {
    if (i > 1) {
      IMGFS_RETURN_IF_ERROR(dev.Read(uint64_t{i} * block_bytes, block));
    }
    auto entry = DecodeApmEntry(block);
    if (!entry.ok()) {
      table.notes.push_back("apm: map entry " + std::to_string(i) + " at block " +
                            std::to_string(i) + " has no PM signature; the map ends there");
      break;
    }
    Partition p;
    p.number = i;
    p.type = entry->type;
    p.type_name = std::string(ApmTypeName(entry->type));
    p.name = entry->name;
    AddPartition("apm", disk_bytes, block_bytes, entry->start_block, entry->block_count,
                 std::move(p), &table);
  }
  return table;
}

std::string_view ApmTypeName(std::string_view type) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"Apple_partition_map", "partition map"},
      {"Apple_Free", "free space"},
      {"Apple_HFS", "Apple HFS/HFS+"},
      {"Apple_HFSX", "Apple HFSX"},
      {"Apple_APFS", "Apple APFS"},
      {"Apple_UFS", "Apple UFS"},
      {"Apple_Boot", "Apple boot"},
      {"Apple_Bootstrap", "Apple bootstrap"},
      {"Apple_Driver", "Apple driver"},
      {"Apple_Driver43", "Apple SCSI driver"},
      {"Apple_Driver43_CD", "Apple CD-ROM driver"},
      {"Apple_Driver_ATA", "Apple ATA driver"},
      {"Apple_Driver_ATAPI", "Apple ATAPI driver"},
      {"Apple_Driver_IOKit", "Apple IOKit driver"},
      {"Apple_Patches", "Apple patches"},
      {"Apple_Void", "void"},
      {"Apple_Scratch", "scratch"},
      {"Apple_PRODOS", "ProDOS"},
      {"Apple_UNIX_SVR2", "Unix file system"},
      {"Apple_ISO9660", "ISO 9660"},
      {"DOS_FAT_32", "FAT32"},
      {"Linux", "Linux"},
      {"Linux_swap", "Linux swap"},
  };
  for (const auto& [id, name] : kNames) {
    if (id == type) {
      return name;
    }
  }
  return {};
}

}  // namespace imgfs::partition
