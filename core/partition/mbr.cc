// SPDX-License-Identifier: MIT
// MBR and extended-partition chain reader (see mbr.h for the layout).
#include "core/partition/mbr.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "core/partition/table_builder.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::partition {
namespace {

// Offsets inside one 16-byte entry.
constexpr size_t kEntryStatus = 0;
constexpr size_t kEntryType = 4;
constexpr size_t kEntryStartLba = 8;
constexpr size_t kEntrySectorCount = 12;
constexpr uint8_t kStatusActive = 0x80;

// Offsets of the file-system name in volume boot sectors.
constexpr size_t kOemNameOffset = 3;         // "NTFS    ", "EXFAT   "
constexpr size_t kFat16FsTypeOffset = 0x36;  // "FAT12   ", "FAT16   "
constexpr size_t kFat32FsTypeOffset = 0x52;  // "FAT32   "
constexpr std::byte kJumpShort{0xeb};        // x86 JMP rel8, then NOP
constexpr std::byte kJumpNear{0xe9};         // x86 JMP rel16
constexpr std::byte kNop{0x90};

bool BytesEqual(std::span<const std::byte> sector, size_t offset, std::string_view text) {
  return std::memcmp(sector.data() + offset, text.data(), text.size()) == 0;
}

// The one extended partition being walked.
struct ExtendedWalk {
  uint32_t primary_number = 0;
  uint64_t start_sector = 0;  // the extended partition's first sector
  uint64_t sector_count = 0;
};

std::string SectorNote(uint64_t sector) { return "sector " + std::to_string(sector); }

// "0x83", "0x0c": the type byte as fdisk users know it.
std::string TypeString(uint8_t type) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {'0', 'x', kDigits[type >> 4], kDigits[type & 0xf]};
}

// Walks one chain of EBRs, adding logical partitions from `*next_number`.
Status WalkExtended(const BlockDevice& dev, const ExtendedWalk& ext, uint32_t* next_number,
                    PartitionTable* table) {
  const uint64_t disk_bytes = dev.Size();
  const uint64_t ext_end = ext.start_sector + ext.sector_count;  // both < 2^32: no overflow
  std::set<uint64_t> visited;
  std::array<std::byte, kMbrSectorBytes> sector{};
  uint64_t ebr = ext.start_sector;
  for (;;) {
    if (ebr < ext.start_sector || ebr >= ext_end) {
      table->notes.push_back(
          "mbr: extended boot record at " + SectorNote(ebr) + " lies outside extended partition " +
          std::to_string(ext.primary_number) + "; logical partitions after it are ignored");
      return Status::Ok();
    }
    if (!visited.insert(ebr).second) {
      table->notes.push_back("mbr: extended partition chain loops back to " + SectorNote(ebr) +
                             "; logical partitions after it are ignored");
      return Status::Ok();
    }
    if (visited.size() > kMaxLogicalPartitions || *next_number > kMaxPartitions) {
      table->notes.push_back("mbr: more than " + std::to_string(kMaxLogicalPartitions) +
                             " logical partitions; the rest are ignored");
      return Status::Ok();
    }
    const uint64_t ebr_bytes = ebr * kMbrSectorBytes;
    if (ebr_bytes + kMbrSectorBytes > disk_bytes) {
      table->notes.push_back("mbr: extended boot record at " + SectorNote(ebr) +
                             " lies past the end of the disk; logical partitions after it are "
                             "ignored");
      return Status::Ok();
    }
    IMGFS_RETURN_IF_ERROR(dev.Read(ebr_bytes, sector));
    auto decoded = DecodeMbr(sector);
    if (!decoded.ok()) {
      // An extended partition with no logical partitions may hold a blank
      // first EBR: that is an empty chain, not a problem worth a note.
      bool blank =
          std::all_of(sector.begin(), sector.end(), [](std::byte b) { return b == std::byte{0}; });
      if (!(blank && ebr == ext.start_sector)) {
        table->notes.push_back("mbr: extended boot record at " + SectorNote(ebr) + ": " +
                               decoded.status().message() +
                               "; logical partitions after it are ignored");
      }
      return Status::Ok();
    }
    // The first non-extended entry is the logical partition (relative to
    // this EBR); the first extended entry links to the next EBR (relative to
    // the start of the extended partition). fdisk and sfdisk use slots 1
    // and 2; other slots are accepted in any order, as Linux does.
    const MbrEntry* data = nullptr;
    const MbrEntry* link = nullptr;
    for (const MbrEntry& e : decoded->entries) {
      if (e.empty()) {
        continue;
      }
      if (IsExtendedType(e.type)) {
        link = link == nullptr ? &e : link;
      } else {
        data = data == nullptr ? &e : data;
      }
    }
    if (data != nullptr) {
      Partition p;
      p.number = (*next_number)++;
      p.type = TypeString(data->type);
      p.type_name = std::string(MbrTypeName(data->type));
      p.bootable = data->status == kStatusActive;
      AddPartition("mbr", disk_bytes, kMbrSectorBytes, ebr + data->start_lba, data->sector_count,
                   std::move(p), table);
    }
    if (link == nullptr) {
      return Status::Ok();
    }
    ebr = ext.start_sector + link->start_lba;
  }
}

}  // namespace

bool HasMbrSignature(std::span<const std::byte> sector) {
  return sector[kMbrSignatureOffset] == std::byte{0x55} &&
         sector[kMbrSignatureOffset + 1] == std::byte{0xaa};
}

Result<Mbr> DecodeMbr(std::span<const std::byte> sector) {
  if (!HasMbrSignature(sector)) {
    return CorruptError("mbr: no 0x55aa signature at offset " + Hex(kMbrSignatureOffset));
  }
  Mbr mbr;
  for (size_t i = 0; i < kMbrEntryCount; ++i) {
    const std::byte* p = sector.data() + kMbrEntriesOffset + i * kMbrEntryBytes;
    MbrEntry& e = mbr.entries[i];
    e.status = std::to_integer<uint8_t>(p[kEntryStatus]);
    e.type = std::to_integer<uint8_t>(p[kEntryType]);
    e.start_lba = LoadLE32(p + kEntryStartLba);
    e.sector_count = LoadLE32(p + kEntrySectorCount);
    if (e.status != 0 && e.status != kStatusActive) {
      return CorruptError("mbr: entry " + std::to_string(i + 1) + " at offset " +
                          Hex(kMbrEntriesOffset + i * kMbrEntryBytes) + " has status " +
                          Hex(e.status) + " (neither 0x0 nor 0x80)");
    }
  }
  return mbr;
}

bool IsExtendedType(uint8_t type) { return type == 0x05 || type == 0x0f || type == 0x85; }

bool HasGptProtectiveEntry(const Mbr& mbr) {
  return std::any_of(mbr.entries.begin(), mbr.entries.end(),
                     [](const MbrEntry& e) { return e.type == kMbrTypeGptProtective; });
}

bool LooksLikeVolumeBootSector(std::span<const std::byte> sector) {
  bool jump = (sector[0] == kJumpShort && sector[2] == kNop) || sector[0] == kJumpNear;
  if (!jump) {
    return false;
  }
  return BytesEqual(sector, kOemNameOffset, "NTFS    ") ||
         BytesEqual(sector, kOemNameOffset, "EXFAT   ") ||
         BytesEqual(sector, kFat16FsTypeOffset, "FAT") ||
         BytesEqual(sector, kFat32FsTypeOffset, "FAT32");
}

Status ReadMbrPartitions(const BlockDevice& dev, const Mbr& mbr, PartitionTable* table) {
  table->scheme = PartitionScheme::kMbr;
  table->sector_bytes = kMbrSectorBytes;
  const uint64_t disk_bytes = dev.Size();
  std::vector<ExtendedWalk> extended;
  for (size_t i = 0; i < kMbrEntryCount; ++i) {
    const MbrEntry& e = mbr.entries[i];
    if (e.empty()) {
      continue;
    }
    const auto number = static_cast<uint32_t>(i + 1);
    if (IsExtendedType(e.type)) {
      // The container itself is not listed: it holds the logical
      // partitions (numbered from 5), and listing it would make windows
      // and DMG blkx entries overlap.
      extended.push_back({number, e.start_lba, e.sector_count});
      continue;
    }
    Partition p;
    p.number = number;
    p.type = TypeString(e.type);
    p.type_name = std::string(MbrTypeName(e.type));
    p.bootable = e.status == kStatusActive;
    AddPartition("mbr", disk_bytes, kMbrSectorBytes, e.start_lba, e.sector_count, std::move(p),
                 table);
  }
  uint32_t next_number = kMbrEntryCount + 1;
  for (const ExtendedWalk& ext : extended) {
    IMGFS_RETURN_IF_ERROR(WalkExtended(dev, ext, &next_number, table));
  }
  return Status::Ok();
}

std::string_view MbrTypeName(uint8_t type) {
  // A selection of fdisk's names (util-linux `sfdisk --label dos --list-types`).
  static constexpr std::pair<uint8_t, std::string_view> kNames[] = {
      {0x01, "FAT12"},
      {0x04, "FAT16 <32M"},
      {0x05, "Extended"},
      {0x06, "FAT16"},
      {0x07, "HPFS/NTFS/exFAT"},
      {0x0b, "W95 FAT32"},
      {0x0c, "W95 FAT32 (LBA)"},
      {0x0e, "W95 FAT16 (LBA)"},
      {0x0f, "W95 Ext'd (LBA)"},
      {0x11, "Hidden FAT12"},
      {0x12, "Compaq diagnostics"},
      {0x14, "Hidden FAT16 <32M"},
      {0x16, "Hidden FAT16"},
      {0x17, "Hidden HPFS/NTFS"},
      {0x1b, "Hidden W95 FAT32"},
      {0x1c, "Hidden W95 FAT32 (LBA)"},
      {0x1e, "Hidden W95 FAT16 (LBA)"},
      {0x27, "Hidden NTFS WinRE"},
      {0x39, "Plan 9"},
      {0x41, "PPC PReP Boot"},
      {0x42, "SFS"},
      {0x4d, "QNX4.x"},
      {0x63, "GNU HURD or SysV"},
      {0x80, "Old Minix"},
      {0x81, "Minix / old Linux"},
      {0x82, "Linux swap / Solaris"},
      {0x83, "Linux"},
      {0x84, "OS/2 hidden or Intel hibernation"},
      {0x85, "Linux extended"},
      {0x86, "NTFS volume set"},
      {0x87, "NTFS volume set"},
      {0x88, "Linux plaintext"},
      {0x8e, "Linux LVM"},
      {0x9f, "BSD/OS"},
      {0xa0, "IBM Thinkpad hibernation"},
      {0xa5, "FreeBSD"},
      {0xa6, "OpenBSD"},
      {0xa7, "NeXTSTEP"},
      {0xa8, "Darwin UFS"},
      {0xa9, "NetBSD"},
      {0xab, "Darwin boot"},
      {0xaf, "HFS / HFS+"},
      {0xbe, "Solaris boot"},
      {0xbf, "Solaris"},
      {0xda, "Non-FS data"},
      {0xde, "Dell Utility"},
      {0xea, "Linux extended boot"},
      {0xeb, "BeOS fs"},
      {0xee, "GPT"},
      {0xef, "EFI (FAT-12/16/32)"},
      {0xf8, "EBBR protective"},
      {0xfb, "VMware VMFS"},
      {0xfc, "VMware VMKCORE"},
      {0xfd, "Linux raid autodetect"},
  };
  for (const auto& [id, name] : kNames) {
    if (id == type) {
      return name;
    }
  }
  return {};
}

}  // namespace imgfs::partition
