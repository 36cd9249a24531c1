// SPDX-License-Identifier: MIT
// GPT reader: primary header, backup fallback, entry decoding and type
// names (see gpt.h).
#include "core/partition/gpt.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "core/partition/table_builder.h"
#include "core/util/checked.h"
#include "core/util/crc32.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::partition {
namespace {

// Logical block sizes tried, in order. 512 covers nearly every image; 4096
// is "Advanced Format 4Kn" disks and some flash media.
constexpr uint32_t kBlockSizes[] = {512, 4096};
constexpr uint32_t kRevisionMajorShift = 16;
constexpr uint32_t kRevision1 = 1;

std::string AtLba(uint64_t lba) { return "gpt: header at LBA " + std::to_string(lba) + ": "; }

// The message without its "gpt: " prefix, for composing several into one.
std::string Reason(const Status& s) {
  std::string_view m = s.message();
  if (m.starts_with("gpt: ")) {
    m.remove_prefix(5);
  }
  return std::string(m);
}

bool IsPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// True when LBA 1 of `block_bytes`-byte blocks starts with "EFI PART".
bool SignatureAt(const BlockDevice& dev, uint32_t block_bytes) {
  if (dev.Size() < 2 * uint64_t{block_bytes}) {
    return false;
  }
  std::byte sig[kGptSignature.size()];
  return dev.Read(block_bytes, sig).ok() &&
         std::memcmp(sig, kGptSignature.data(), kGptSignature.size()) == 0;
}

// A header that decoded, with its block size and (when loaded) its array.
struct LoadedGpt {
  uint32_t block_bytes = 512;
  GptHeader header;
  std::vector<std::byte> entries;
};

Result<GptHeader> ReadHeaderAt(const BlockDevice& dev, uint32_t block_bytes, uint64_t lba) {
  const uint64_t disk_blocks = dev.Size() / block_bytes;
  if (lba >= disk_blocks) {
    return CorruptError(AtLba(lba) + "lies past the end of the disk (" +
                        std::to_string(disk_blocks) + " blocks of " + std::to_string(block_bytes) +
                        " bytes)");
  }
  std::vector<std::byte> block(block_bytes);
  IMGFS_RETURN_IF_ERROR(dev.Read(lba * block_bytes, block));
  return DecodeGptHeader(block, lba);
}

// Reads and checks the entry array `header` points at.
Result<std::vector<std::byte>> ReadEntries(const BlockDevice& dev, uint32_t block_bytes,
                                           const GptHeader& header) {
  // Both factors were bounded by DecodeGptHeader: the product fits.
  const uint64_t array_bytes = uint64_t{header.entry_count} * header.entry_bytes;
  auto offset = CheckedMul(header.entries_lba, block_bytes);
  if (!offset || !RangeWithin(*offset, array_bytes, dev.Size())) {
    return CorruptError(AtLba(header.my_lba) + "entry array at LBA " +
                        std::to_string(header.entries_lba) + " (" + std::to_string(array_bytes) +
                        " bytes) leaves the disk (size " + Hex(dev.Size()) + ")");
  }
  std::vector<std::byte> entries(static_cast<size_t>(array_bytes));
  IMGFS_RETURN_IF_ERROR(dev.Read(*offset, entries));
  const uint32_t crc = Crc32(entries);
  if (crc != header.entries_crc) {
    return CorruptError(AtLba(header.my_lba) + "entry array CRC32 is " + Hex(header.entries_crc) +
                        " but its bytes give " + Hex(crc));
  }
  return entries;
}

Result<LoadedGpt> LoadAt(const BlockDevice& dev, uint32_t block_bytes, uint64_t lba,
                         std::optional<GptHeader>* header_only) {
  LoadedGpt g;
  g.block_bytes = block_bytes;
  IMGFS_ASSIGN_OR_RETURN(g.header, ReadHeaderAt(dev, block_bytes, lba));
  if (header_only != nullptr) {
    *header_only = g.header;
  }
  IMGFS_ASSIGN_OR_RETURN(g.entries, ReadEntries(dev, block_bytes, g.header));
  return g;
}

Result<PartitionTable> BuildTable(const BlockDevice& dev, const LoadedGpt& g) {
  PartitionTable table;
  table.scheme = PartitionScheme::kGpt;
  table.sector_bytes = g.block_bytes;
  const uint64_t disk_bytes = dev.Size();
  const uint64_t disk_blocks = disk_bytes / g.block_bytes;
  if (g.header.last_usable_lba >= disk_blocks) {
    table.notes.push_back("gpt: the header's usable area ends at LBA " +
                          std::to_string(g.header.last_usable_lba) + " but the disk has only " +
                          std::to_string(disk_blocks) + " blocks (a truncated or shrunk image?)");
  }
  size_t used = 0;
  for (uint32_t i = 0; i < g.header.entry_count; ++i) {
    GptEntry e = DecodeGptEntry(std::span<const std::byte>(g.entries).subspan(
        size_t{i} * g.header.entry_bytes, g.header.entry_bytes));
    if (!e.used()) {
      continue;
    }
    if (++used > kMaxPartitions) {
      return UnsupportedError("gpt: more than " + std::to_string(kMaxPartitions) +
                              " partitions in use");
    }
    if (e.last_lba < e.first_lba) {
      table.notes.push_back("gpt: partition " + std::to_string(i + 1) + " ends at LBA " +
                            std::to_string(e.last_lba) + ", before it starts at LBA " +
                            std::to_string(e.first_lba) + "; left out");
      continue;
    }
    // last_lba is inclusive; a range of 2^64 blocks cannot fit anyway.
    uint64_t count = e.last_lba - e.first_lba;
    count += count == UINT64_MAX ? 0 : 1;
    Partition p;
    p.number = i + 1;
    p.type = GuidToString(e.type_guid);
    p.type_name = std::string(GptTypeName(p.type));
    p.name = std::move(e.name);
    p.guid = GuidToString(e.unique_guid);
    p.bootable = (e.attributes & kGptAttrLegacyBootable) != 0;
    AddPartition("gpt", disk_bytes, g.block_bytes, e.first_lba, count, std::move(p), &table);
  }
  return table;
}

// Notes a backup header that a good primary points at but that is unusable.
Status CheckBackup(const BlockDevice& dev, const LoadedGpt& primary, PartitionTable* table) {
  auto backup = LoadAt(dev, primary.block_bytes, primary.header.alternate_lba, nullptr);
  if (!backup.ok()) {
    if (backup.status().code() == StatusCode::kIOError) {
      return backup.status();
    }
    table->notes.push_back("gpt: backup header unusable (" + Reason(backup.status()) +
                           "); the primary is used");
  }
  return Status::Ok();
}

}  // namespace

Result<GptHeader> DecodeGptHeader(std::span<const std::byte> block, uint64_t lba) {
  const std::byte* p = block.data();
  if (block.size() < kGptMinHeaderBytes ||
      std::memcmp(p + kGptSignatureOffset, kGptSignature.data(), kGptSignature.size()) != 0) {
    return CorruptError(AtLba(lba) + "no \"EFI PART\" signature");
  }
  GptHeader h;
  h.revision = LoadLE32(p + kGptRevisionOffset);
  h.header_bytes = LoadLE32(p + kGptHeaderSizeOffset);
  h.header_crc = LoadLE32(p + kGptHeaderCrcOffset);
  h.my_lba = LoadLE64(p + kGptMyLbaOffset);
  h.alternate_lba = LoadLE64(p + kGptAlternateLbaOffset);
  h.first_usable_lba = LoadLE64(p + kGptFirstUsableLbaOffset);
  h.last_usable_lba = LoadLE64(p + kGptLastUsableLbaOffset);
  std::copy_n(p + kGptDiskGuidOffset, h.disk_guid.size(), h.disk_guid.begin());
  h.entries_lba = LoadLE64(p + kGptEntriesLbaOffset);
  h.entry_count = LoadLE32(p + kGptEntryCountOffset);
  h.entry_bytes = LoadLE32(p + kGptEntryBytesOffset);
  h.entries_crc = LoadLE32(p + kGptEntriesCrcOffset);

  if ((h.revision >> kRevisionMajorShift) != kRevision1) {
    return UnsupportedError(AtLba(lba) + "revision " + Hex(h.revision) + " is not 1.x");
  }
  if (h.header_bytes < kGptMinHeaderBytes || h.header_bytes > block.size()) {
    return CorruptError(AtLba(lba) + "header size " + std::to_string(h.header_bytes) +
                        " is outside 92.." + std::to_string(block.size()));
  }
  // The CRC covers header_bytes with the CRC field itself taken as zero.
  std::vector<std::byte> copy(p, p + h.header_bytes);
  std::fill_n(copy.begin() + kGptHeaderCrcOffset, 4, std::byte{0});
  const uint32_t crc = Crc32(copy);
  if (crc != h.header_crc) {
    return CorruptError(AtLba(lba) + "header CRC32 is " + Hex(h.header_crc) +
                        " but its bytes give " + Hex(crc));
  }
  if (h.my_lba != lba) {
    return CorruptError(AtLba(lba) + "the header says it is at LBA " + std::to_string(h.my_lba));
  }
  if (h.first_usable_lba > h.last_usable_lba) {
    return CorruptError(AtLba(lba) + "first usable LBA " + std::to_string(h.first_usable_lba) +
                        " is after last usable LBA " + std::to_string(h.last_usable_lba));
  }
  if (h.entry_bytes < kGptMinEntryBytes || !IsPowerOfTwo(h.entry_bytes)) {
    return CorruptError(AtLba(lba) + "entry size " + std::to_string(h.entry_bytes) +
                        " is not 128 times a power of two");
  }
  if (h.entry_bytes > kGptMaxEntryBytes) {
    return UnsupportedError(AtLba(lba) + "entry size " + std::to_string(h.entry_bytes) +
                            " exceeds the limit of " + std::to_string(kGptMaxEntryBytes));
  }
  if (uint64_t{h.entry_count} * h.entry_bytes > kGptMaxEntryArrayBytes) {
    return UnsupportedError(AtLba(lba) + std::to_string(h.entry_count) + " entries of " +
                            std::to_string(h.entry_bytes) + " bytes exceed the limit of " +
                            std::to_string(kGptMaxEntryArrayBytes) + " bytes");
  }
  return h;
}

bool GptEntry::used() const {
  return std::any_of(type_guid.begin(), type_guid.end(),
                     [](std::byte b) { return b != std::byte{0}; });
}

GptEntry DecodeGptEntry(std::span<const std::byte> entry) {
  const std::byte* p = entry.data();
  GptEntry e;
  std::copy_n(p + kGptEntryTypeGuidOffset, e.type_guid.size(), e.type_guid.begin());
  std::copy_n(p + kGptEntryUniqueGuidOffset, e.unique_guid.size(), e.unique_guid.begin());
  e.first_lba = LoadLE64(p + kGptEntryFirstLbaOffset);
  e.last_lba = LoadLE64(p + kGptEntryLastLbaOffset);
  e.attributes = LoadLE64(p + kGptEntryAttributesOffset);
  e.name = Utf16LeToUtf8(entry.subspan(kGptEntryNameOffset, kGptEntryNameBytes));
  return e;
}

std::string_view GptTypeName(std::string_view guid) {
  // A selection of util-linux's names (`sfdisk --label gpt --list-types`).
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI System"},
      {"024DEE41-33E7-11D3-9D69-0008C781F39F", "MBR partition scheme"},
      {"D3BFE2DE-3DAF-11DF-BA40-E3A556D89593", "Intel Fast Flash"},
      {"21686148-6449-6E6F-744E-656564454649", "BIOS boot"},
      {"9E1A2D38-C612-4316-AA26-8B49521E5A8B", "PowerPC PReP boot"},
      {"E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "Microsoft reserved"},
      {"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Microsoft basic data"},
      {"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", "Microsoft LDM metadata"},
      {"AF9B60A0-1431-4F62-BC68-3311714A69AD", "Microsoft LDM data"},
      {"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", "Windows recovery environment"},
      {"E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D", "Microsoft Storage Spaces"},
      {"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap"},
      {"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem"},
      {"3B8F8425-20E0-4F3B-907F-1A25A76F98E8", "Linux server data"},
      {"44479540-F297-41B2-9AF7-D131D5F0458A", "Linux root (x86)"},
      {"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)"},
      {"69DAD710-2CE4-4E3C-B16C-21A1D49ABED3", "Linux root (ARM)"},
      {"B921B045-1DF0-41C3-AF44-4C6F280D3FAE", "Linux root (ARM-64)"},
      {"72EC70A6-CF74-40E6-BD49-4BDA08E8F224", "Linux root (RISC-V-64)"},
      {"8DA63339-0007-60C0-C436-083AC8230908", "Linux reserved"},
      {"933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "Linux home"},
      {"A19D880F-05FC-4D3B-A006-743F0F84911E", "Linux RAID"},
      {"E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM"},
      {"4D21B016-B534-45C2-A9FB-5C16E091FD2D", "Linux variable data"},
      {"7EC6F557-3BC5-4ACA-B293-16EF5DF639D1", "Linux temporary data"},
      {"8484680C-9521-48C6-9C11-B0720656F69E", "Linux /usr (x86-64)"},
      {"BC13C2FF-59E6-4262-A352-B275FD6F7172", "Linux extended boot"},
      {"CA7D7CCB-63ED-4C53-861C-1742536059CC", "Linux LUKS"},
      {"516E7CB4-6ECF-11D6-8FF8-00022D09712B", "FreeBSD data"},
      {"83BD6B9D-7F41-11DC-BE0B-001560B84F0F", "FreeBSD boot"},
      {"516E7CB5-6ECF-11D6-8FF8-00022D09712B", "FreeBSD swap"},
      {"516E7CB6-6ECF-11D6-8FF8-00022D09712B", "FreeBSD UFS"},
      {"516E7CBA-6ECF-11D6-8FF8-00022D09712B", "FreeBSD ZFS"},
      {"48465300-0000-11AA-AA11-00306543ECAC", "Apple HFS/HFS+"},
      {"7C3457EF-0000-11AA-AA11-00306543ECAC", "Apple APFS"},
      {"55465300-0000-11AA-AA11-00306543ECAC", "Apple UFS"},
      {"52414944-0000-11AA-AA11-00306543ECAC", "Apple RAID"},
      {"426F6F74-0000-11AA-AA11-00306543ECAC", "Apple boot"},
      {"4C616265-6C00-11AA-AA11-00306543ECAC", "Apple label"},
      {"5265636F-7665-11AA-AA11-00306543ECAC", "Apple TV recovery"},
      {"53746F72-6167-11AA-AA11-00306543ECAC", "Apple Core storage"},
      {"6A898CC3-1DD2-11B2-99A6-080020736631", "Solaris /usr & Apple ZFS"},
      {"824CC7A0-36A8-11E3-890A-952519AD3F61", "OpenBSD data"},
      {"49F48D5A-B10E-11DC-B99B-0019D1879648", "NetBSD FFS"},
      {"FE3A2A5D-4F32-41A7-B725-ACCC3285A309", "ChromeOS kernel"},
      {"3CB8E202-3B7E-47DD-8A3C-7FF2A13CFCEC", "ChromeOS root fs"},
      {"AA31E02A-400F-11DB-9590-000C2911D1B8", "VMware VMFS"},
  };
  for (const auto& [id, name] : kNames) {
    if (id == guid) {
      return name;
    }
  }
  return {};
}

bool HasGptSignature(const BlockDevice& dev) {
  return std::any_of(std::begin(kBlockSizes), std::end(kBlockSizes),
                     [&dev](uint32_t block_bytes) { return SignatureAt(dev, block_bytes); });
}

Result<PartitionTable> ReadGpt(const BlockDevice& dev) {
  // Primary headers first, at each block size.
  std::optional<Status> primary_error;
  bool error_has_signature = false;
  std::vector<std::pair<uint32_t, uint64_t>> backups;  // (block size, LBA) to try
  for (uint32_t block_bytes : kBlockSizes) {
    if (dev.Size() < 2 * uint64_t{block_bytes}) {
      continue;
    }
    std::optional<GptHeader> header;
    auto primary = LoadAt(dev, block_bytes, 1, &header);
    if (primary.ok()) {
      IMGFS_ASSIGN_OR_RETURN(PartitionTable table, BuildTable(dev, *primary));
      IMGFS_RETURN_IF_ERROR(CheckBackup(dev, *primary, &table));
      return table;
    }
    if (primary.status().code() == StatusCode::kIOError) {
      return primary.status();
    }
    // Report the 512-byte reading unless only the 4096-byte one found a
    // signature.
    const bool signature_here = SignatureAt(dev, block_bytes);
    if (!primary_error || (signature_here && !error_has_signature)) {
      primary_error = primary.status();
      error_has_signature = signature_here;
    }
    if (header) {
      backups.emplace_back(block_bytes, header->alternate_lba);
    }
    backups.emplace_back(block_bytes, dev.Size() / block_bytes - 1);
  }
  if (!primary_error) {
    return CorruptError("gpt: the disk is too small for a GPT (" + std::to_string(dev.Size()) +
                        " bytes)");
  }
  // Then the backups the primaries point at, and the last block.
  std::optional<Status> backup_error;
  for (size_t i = 0; i < backups.size(); ++i) {
    const auto [block_bytes, lba] = backups[i];
    if (std::find(backups.begin(), backups.begin() + static_cast<ptrdiff_t>(i), backups[i]) !=
        backups.begin() + static_cast<ptrdiff_t>(i)) {
      continue;
    }
    auto backup = LoadAt(dev, block_bytes, lba, nullptr);
    if (backup.ok()) {
      IMGFS_ASSIGN_OR_RETURN(PartitionTable table, BuildTable(dev, *backup));
      table.notes.insert(table.notes.begin(),
                         "gpt: primary header unusable (" + Reason(*primary_error) +
                             "); using the backup header at LBA " + std::to_string(lba));
      return table;
    }
    if (backup.status().code() == StatusCode::kIOError) {
      return backup.status();
    }
    if (!backup_error) {
      backup_error = backup.status();
    }
  }
  return CorruptError("gpt: primary and backup headers unusable: " + Reason(*primary_error) + "; " +
                      Reason(backup_error.value_or(Status())));
}

}  // namespace imgfs::partition
