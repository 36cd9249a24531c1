// SPDX-License-Identifier: MIT
#include "formats/dmg/layout.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <string_view>

#include "core/util/checked.h"
#include "core/util/endian.h"

namespace imgfs::dmg {
namespace {

// GPT header fields used to place the table structures (UEFI spec 2.x,
// "GPT Header"): offsets inside LBA 1.
constexpr std::string_view kGptSignature = "EFI PART";
constexpr size_t kGptAlternateLbaOffset = 32;
constexpr size_t kGptEntriesLbaOffset = 72;
constexpr size_t kGptEntryCountOffset = 80;
constexpr size_t kGptEntryBytesOffset = 84;
// Caps on the header's table geometry before trusting it for names only.
constexpr uint32_t kGptMaxEntries = 65536;
constexpr uint32_t kGptMaxEntryBytes = 4096;

// A named stretch of sectors before gaps are filled in.
struct Piece {
  uint64_t start = 0;
  uint64_t count = 0;
  std::string prefix;  // "GPT Header"; empty for most partitions
  std::string type;    // "Primary GPT Header", "Apple_HFS", ...
};

std::string RegionName(const std::string& prefix, const std::string& type, uint32_t n) {
  // hdiutil: "<name> (<type> : <n>)"; an empty name leaves the leading
  // space (" (Apple_Free : 3)"), which hdiutil's transcripts show too.
  return prefix + " (" + type + " : " + std::to_string(n) + ")";
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// hdiutil shows Apple's own GPT types by their Apple names and every other
// type as the uppercase GUID ("EFI System Partition (C12A7328-F81F-11D2-
// BA4B-00A0C93EC93B : 4)").
std::string GptTypeName(const std::string& guid) {
  struct Known {
    std::string_view guid;
    std::string_view name;
  };
  static constexpr Known kKnown[] = {
      {"48465300-0000-11AA-AA11-00306543ECAC", "Apple_HFS"},
      {"7C3457EF-0000-11AA-AA11-00306543ECAC", "Apple_APFS"},
      {"55465300-0000-11AA-AA11-00306543ECAC", "Apple_UFS"},
      {"426F6F74-0000-11AA-AA11-00306543ECAC", "Apple_Boot"},
      {"52414944-0000-11AA-AA11-00306543ECAC", "Apple_RAID"},
  };
  std::string upper = Upper(guid);
  for (const Known& k : kKnown) {
    if (upper == k.guid) {
      return std::string(k.name);
    }
  }
  return upper;
}

std::optional<unsigned> ParseMbrType(const std::string& type) {
  unsigned value = 0;
  if (std::sscanf(type.c_str(), "0x%x", &value) != 1 || value > 0xff) {
    return std::nullopt;
  }
  return value;
}

// hdiutil's names for MBR types: the content names of Apple's
// IOFDiskPartitionScheme table (the ones `diskutil list` shows), which
// hdiutil's own MBR image in tests/data/dmg-real/ confirms (type 0x0E is
// " (Windows_FAT_16 : 2)"). Types the table lacks print as "Type XX"
// (" (Type EF : 2)").
std::string MbrTypeName(unsigned type) {
  switch (type) {
    case 0x01:
      return "DOS_FAT_12";
    case 0x04:
      return "DOS_FAT_16_S";
    case 0x06:
      return "DOS_FAT_16";
    case 0x07:
      return "Windows_NTFS";
    case 0x0b:
      return "DOS_FAT_32";
    case 0x0c:
      return "Windows_FAT_32";
    case 0x0e:
      return "Windows_FAT_16";
    case 0x17:
      return "Windows_NTFS_Hidden";
    case 0x82:
      return "Linux_Swap";
    case 0x83:
      return "Linux";
    case 0xab:
      return "Apple_Boot";
    case 0xaf:
      return "Apple_HFS";
    default: {
      std::array<char, 16> buf{};
      std::snprintf(buf.data(), buf.size(), "Type %02X", type);
      return buf.data();
    }
  }
}

bool IsMbrContainer(unsigned type) { return type == 0x05 || type == 0x0f || type == 0x85; }

// The map's own structures, then its partitions, unsorted.
std::vector<Piece> Pieces(const PartitionTable& table, const GptGeometry& gpt,
                          std::string* why_not) {
  std::vector<Piece> pieces;
  switch (table.scheme) {
    case PartitionScheme::kMbr:
      pieces.push_back({0, 1, "Master Boot Record", "MBR"});
      break;
    case PartitionScheme::kGpt:
      if (table.sector_bytes != kSectorBytes) {
        break;  // 4 KiB-block GPT: its structures fall into named gaps
      }
      pieces.push_back({0, 1, "Protective Master Boot Record", "MBR"});
      pieces.push_back({1, 1, "GPT Header", "Primary GPT Header"});
      pieces.push_back(
          {gpt.entries_lba, gpt.entries_sectors, "GPT Partition Data", "Primary GPT Table"});
      if (gpt.backup_header_lba > gpt.entries_sectors + gpt.entries_lba) {
        pieces.push_back({gpt.backup_header_lba - gpt.entries_sectors, gpt.entries_sectors,
                          "GPT Partition Data", "Backup GPT Table"});
        pieces.push_back({gpt.backup_header_lba, 1, "GPT Header", "Backup GPT Header"});
      }
      break;
    case PartitionScheme::kApm:
      // The DDM fills block 0, which is 512 or 2048 bytes (CD layouts).
      pieces.push_back({0, std::max<uint64_t>(1, table.sector_bytes / kSectorBytes),
                        "Driver Descriptor Map", "DDM"});
      break;
    case PartitionScheme::kNone:
      break;
  }
  for (const Partition& p : table.partitions) {
    if (p.start_bytes % kSectorBytes != 0 || p.length_bytes % kSectorBytes != 0) {
      *why_not = "partition " + std::to_string(p.number) + " is not made of 512-byte sectors";
      return {};
    }
    Piece piece{p.start_bytes / kSectorBytes, p.length_bytes / kSectorBytes, p.name, p.type};
    if (table.scheme == PartitionScheme::kMbr) {
      auto type = ParseMbrType(p.type);
      if (type && IsMbrContainer(*type)) {
        continue;  // the extended container overlaps its logical partitions
      }
      piece.type = type ? MbrTypeName(*type) : p.type;
    } else if (table.scheme == PartitionScheme::kGpt) {
      piece.type = GptTypeName(p.type);
    }
    if (piece.count > 0) {
      pieces.push_back(std::move(piece));
    }
  }
  return pieces;
}

DiskLayout WholeDisk(uint64_t size_bytes, std::string_view type) {
  DiskLayout layout;
  layout.size_bytes = size_bytes;
  layout.sector_count = DivRoundUp(size_bytes, kSectorBytes);
  layout.image_variant = kVariantPartition;
  // An empty disk still gets its (empty) blkx: dmg2img calls an image
  // without any blkx corrupt. hdiutil's whole-disk image (nodeudif-raw.dmg)
  // and libdmg-hfsplus give it ID 0 and the entire-device descriptor; the
  // -1 and 0 of a partitioned image's first blkx would say "MBR".
  layout.regions.push_back({"whole disk (" + std::string(type) + " : 0)", 0, 0, 0,
                            layout.sector_count, kDescriptorEntireDevice, false});
  return layout;
}

// The content type hdiutil would name for a disk without a partition map,
// from the file-system signatures we can recognise cheaply.
std::string WholeDiskType(std::span<const std::byte> head) {
  auto at = [&](size_t off, std::string_view magic) {
    return head.size() >= off + magic.size() &&
           std::equal(magic.begin(), magic.end(), head.begin() + static_cast<ptrdiff_t>(off),
                      [](char a, std::byte b) { return static_cast<std::byte>(a) == b; });
  };
  if (at(1024, "H+") || at(1024, "HX") || at(1024, "BD")) {
    return "Apple_HFS";
  }
  if (at(32, "NXSB")) {
    return "Apple_APFS";
  }
  if (at(32769, "CD001")) {
    return "Apple_ISO";
  }
  if (at(82, "FAT32")) {
    return "DOS_FAT_32";
  }
  if (at(54, "FAT16")) {
    return "DOS_FAT_16";
  }
  if (at(54, "FAT12")) {
    return "DOS_FAT_12";
  }
  return "Unknown Partition";
}

GptGeometry ReadGptGeometry(std::span<const std::byte> head, uint64_t sector_count) {
  GptGeometry g;
  g.backup_header_lba = sector_count > 0 ? sector_count - 1 : 0;
  if (head.size() < 2 * kSectorBytes) {
    return g;
  }
  const std::byte* h = head.data() + kSectorBytes;
  if (!std::equal(kGptSignature.begin(), kGptSignature.end(), h,
                  [](char a, std::byte b) { return static_cast<std::byte>(a) == b; })) {
    return g;
  }
  uint64_t entries_lba = LoadLE64(h + kGptEntriesLbaOffset);
  uint32_t count = LoadLE32(h + kGptEntryCountOffset);
  uint32_t entry_bytes = LoadLE32(h + kGptEntryBytesOffset);
  uint64_t alternate = LoadLE64(h + kGptAlternateLbaOffset);
  if (count == 0 || count > kGptMaxEntries || entry_bytes == 0 || entry_bytes > kGptMaxEntryBytes ||
      entries_lba < 2 || entries_lba >= sector_count || alternate >= sector_count) {
    return g;
  }
  g.entries_lba = entries_lba;
  g.entries_sectors = DivRoundUp(uint64_t{count} * entry_bytes, kSectorBytes);
  g.backup_header_lba = alternate;
  return g;
}

}  // namespace

DiskLayout PlanLayout(uint64_t size_bytes, const PartitionTable& table, const GptGeometry& gpt,
                      std::string_view whole_disk_type) {
  if (table.scheme == PartitionScheme::kNone || size_bytes == 0) {
    return WholeDisk(size_bytes, whole_disk_type);
  }
  const uint64_t sectors = DivRoundUp(size_bytes, kSectorBytes);
  std::string why_not;
  std::vector<Piece> pieces = Pieces(table, gpt, &why_not);
  std::sort(pieces.begin(), pieces.end(),
            [](const Piece& a, const Piece& b) { return a.start < b.start; });
  uint64_t end = 0;
  for (const Piece& p : pieces) {
    if (!why_not.empty()) {
      break;
    }
    if (p.start < end) {
      why_not = p.prefix + " (" + p.type + ") overlaps the structure before it";
    } else if (!RangeWithin(p.start, p.count, sectors)) {
      why_not = p.prefix + " (" + p.type + ") extends past the end of the disk";
    }
    end = p.start + p.count;
  }
  if (!why_not.empty()) {
    DiskLayout layout = WholeDisk(size_bytes, whole_disk_type);
    layout.notes.push_back("partition map not used for blkx names: " + why_not);
    return layout;
  }
  DiskLayout layout;
  layout.size_bytes = size_bytes;
  layout.sector_count = sectors;
  layout.scheme = table.scheme;
  layout.image_variant = kVariantDevice;
  uint32_t n = 0;
  uint64_t pos = 0;
  auto add = [&](const std::string& prefix, const std::string& type, uint64_t start,
                 uint64_t count) {
    const int32_t id = static_cast<int32_t>(n) - 1;
    // MBR and GPT: hdiutil's images (tests/data/dmg-real/) give blkx n the
    // descriptor n ("(MBR : 0)" has 0). APM: no hdiutil APM image is at
    // hand; libdmg-hfsplus, whose APM images macOS attaches (Firefox's
    // DMGs are made with it), gives each blkx its ID, so the DDM gets
    // 0xFFFFFFFF (its DDM_DESCRIPTOR) and the map "(... : 1)" 0.
    const uint32_t descriptor =
        table.scheme == PartitionScheme::kApm ? static_cast<uint32_t>(id) : n;
    layout.regions.push_back(
        {RegionName(prefix, type, n), id, n, start, count, descriptor, type == "Apple_Free"});
    ++n;
  };
  for (const Piece& p : pieces) {
    if (p.start > pos) {
      add("", "Apple_Free", pos, p.start - pos);
    }
    add(p.prefix, p.type, p.start, p.count);
    pos = p.start + p.count;
  }
  if (pos < sectors) {
    add("", "Apple_Free", pos, sectors - pos);
  }
  return layout;
}

Result<DiskLayout> PlanDeviceLayout(const BlockDevice& dev) {
  const uint64_t size = dev.Size();
  // Enough for the GPT header and the file-system signatures above.
  constexpr uint64_t kHeadBytes = 34 * 1024;
  std::vector<std::byte> head(static_cast<size_t>(std::min(size, kHeadBytes)));
  if (!head.empty()) {
    Status s = dev.Read(0, head);
    if (!s.ok()) {
      return s.Annotate("dmg: cannot read the first " + std::to_string(head.size()) +
                        " bytes for the partition map");
    }
  }
  PartitionTable table;
  std::vector<std::string> notes;
  if (size >= 2 * kSectorBytes) {
    auto read = ReadPartitionTable(dev);
    if (read.ok()) {
      table = std::move(*read);
    } else if (read.status().code() == StatusCode::kCorrupt ||
               read.status().code() == StatusCode::kUnsupported) {
      // The bytes are copied all the same; only the blkx names are lost.
      notes.push_back("partition map not used for blkx names: " + read.status().message());
    } else {
      return read.status();
    }
  }
  DiskLayout layout = PlanLayout(size, table, ReadGptGeometry(head, DivRoundUp(size, kSectorBytes)),
                                 WholeDiskType(head));
  layout.notes.insert(layout.notes.begin(), notes.begin(), notes.end());
  return layout;
}

Status CollectSectorRuns(const BlockDevice& dev, uint64_t first_sector, uint64_t sector_count,
                         std::vector<SectorRun>* out) {
  const uint64_t size = dev.Size();
  const uint64_t begin = first_sector * kSectorBytes;
  const uint64_t end = std::min(size, (first_sector + sector_count) * kSectorBytes);
  uint64_t cursor = first_sector;  // next sector not yet classified
  auto emit = [&](uint64_t until, bool data) {
    if (until <= cursor) {
      return;
    }
    if (!out->empty() && out->back().data == data &&
        out->back().first_sector + out->back().sector_count == cursor) {
      out->back().sector_count += until - cursor;
    } else {
      out->push_back({cursor, until - cursor, data});
    }
    cursor = until;
  };
  if (begin < end) {
    std::vector<Extent> extents;
    IMGFS_RETURN_IF_ERROR(CollectExtents(dev, begin, end - begin, &extents));
    for (const Extent& e : extents) {
      uint64_t e_end = e.offset + e.length;
      if (e.kind == ExtentKind::kData) {
        // A sector with any data byte is data.
        emit(DivRoundUp(e_end, kSectorBytes), true);
      } else {
        // Only sectors wholly inside the hole are zero, except at the end of
        // the disk where the padding of the last sector reads as zeros.
        emit(e_end == size ? DivRoundUp(e_end, kSectorBytes) : e_end / kSectorBytes, false);
      }
    }
  }
  // Sectors wholly past the end of the device (none unless the caller asks
  // for padding) are zero.
  emit(first_sector + sector_count, false);
  return Status::Ok();
}

Status ForEachPiece(const BlockDevice& dev, const BlkxRegion& region, uint64_t chunk_sectors,
                    bool split_zero, const std::function<Status(const SectorRun&)>& fn) {
  const uint64_t window = std::max<uint64_t>(1, kRunWindowSectors / chunk_sectors) * chunk_sectors;
  const uint64_t end = region.first_sector + region.sector_count;
  std::vector<SectorRun> runs;
  for (uint64_t pos = region.first_sector; pos < end;) {
    const uint64_t n = std::min(window, end - pos);
    runs.clear();
    IMGFS_RETURN_IF_ERROR(CollectSectorRuns(dev, pos, n, &runs));
    for (const SectorRun& run : runs) {
      const uint64_t run_end = run.first_sector + run.sector_count;
      for (uint64_t s = run.first_sector; s < run_end;) {
        uint64_t piece_end = run_end;
        if (run.data || split_zero) {
          uint64_t cell = (s - region.first_sector) / chunk_sectors + 1;
          piece_end = std::min(run_end, region.first_sector + cell * chunk_sectors);
        }
        IMGFS_RETURN_IF_ERROR(fn({s, piece_end - s, run.data}));
        s = piece_end;
      }
    }
    pos += n;
  }
  return Status::Ok();
}

void AppendZeroChunks(const BlkxRegion& region, uint64_t chunk_sectors, uint64_t rel,
                      uint64_t count, uint64_t fork_offset, std::vector<Chunk>* out) {
  const uint64_t end = rel + count;
  // Ignore chunks of whole cells stay on the grid too: at most the largest
  // multiple of chunk_sectors that qemu accepts.
  const uint64_t ignore_max =
      std::max<uint64_t>(1, kMaxChunkSectors / chunk_sectors) * chunk_sectors;
  auto ignore = [&](uint64_t from, uint64_t to) {
    for (uint64_t s = from; s < to;) {
      const uint64_t n = std::min(ignore_max, to - s);
      out->push_back({ChunkType::kIgnore, 0, s, n, fork_offset, 0});
      s += n;
    }
  };
  auto zero_fill = [&](uint64_t from, uint64_t to) {
    for (uint64_t s = from; s < to;) {
      const uint64_t cell_end = (s / chunk_sectors + 1) * chunk_sectors;
      const uint64_t n = std::min(cell_end, to) - s;
      out->push_back({ChunkType::kZeroFill, 0, s, n, fork_offset, 0});
      s += n;
    }
  };
  if (region.free_space) {
    ignore(rel, end);
    return;
  }
  const uint64_t whole_begin = DivRoundUp(rel, chunk_sectors) * chunk_sectors;
  const uint64_t whole_end = end / chunk_sectors * chunk_sectors;
  if (whole_begin >= whole_end) {
    zero_fill(rel, end);  // no whole cell: one or two partial ones
    return;
  }
  zero_fill(rel, whole_begin);
  ignore(whole_begin, whole_end);
  zero_fill(whole_end, end);
}

uint32_t BuffersNeeded(std::optional<ChunkType> codec, uint64_t chunk_sectors) {
  if (!codec) {
    return 0;
  }
  uint64_t margin = 0;
  switch (*codec) {
    case ChunkType::kZlib:
      margin = 8;
      break;
    case ChunkType::kAdc:
      margin = 1;
      break;
    case ChunkType::kBzip2:
    case ChunkType::kLzma:
      margin = 3;
      break;
    case ChunkType::kLzfse:
      margin = 5;
      break;
    default:
      break;
  }
  return static_cast<uint32_t>(chunk_sectors + margin);
}

}  // namespace imgfs::dmg
