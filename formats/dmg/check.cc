// SPDX-License-Identifier: MIT
// Check() of UDIF images. What hdiutil verifies: the data fork CRC-32 (koly),
// each blkx table's CRC-32 over its decompressed sectors (mish) leaving out
// the sectors of its "ignore" (type 2) chunks, and the master checksum, which is the CRC-32 of the
// blkx CRC-32 values written big-endian one after another, in resource order, counting only tables
// whose checksum is CRC-32 (libdmg-hfsplus's calculateMasterChecksum and
// hdiutil-made images agree on this). Besides: chunk data ranges that
// overlap one another or leave the data fork, and a koly sector count that
// disagrees with the tables.
#include <algorithm>
#include <array>
#include <vector>

#include "core/util/crc32.h"
#include "core/util/hex.h"
#include "formats/dmg/device.h"

namespace imgfs::dmg {
namespace {

// Read granularity while checksumming.
constexpr uint64_t kCheckBlockBytes = uint64_t{1} << 20;

Result<uint32_t> CrcOfFile(const File& file, uint64_t offset, uint64_t length) {
  std::vector<std::byte> buf(static_cast<size_t>(std::min(length, kCheckBlockBytes)));
  uint32_t crc = 0;
  while (length > 0) {
    const auto n = static_cast<size_t>(std::min<uint64_t>(length, buf.size()));
    std::span<std::byte> part(buf.data(), n);
    IMGFS_RETURN_IF_ERROR(file.ReadExactAt(offset, part, "dmg: data fork"));
    crc = Crc32(part, crc);
    offset += n;
    length -= n;
  }
  return crc;
}

// Zero extents are folded in by Crc32ZeroExtend without being read, so a
// table that claims terabytes of zero fill costs O(log n), not a memset.
Result<uint32_t> CrcOfDevice(const BlockDevice& dev, uint64_t offset, uint64_t length) {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, dev.Size()));
  std::vector<std::byte> buf;
  std::vector<Extent> extents;
  uint32_t crc = 0;
  const uint64_t end = offset + length;
  while (offset < end) {
    extents.clear();
    IMGFS_RETURN_IF_ERROR(dev.Extents(offset, end - offset, &extents));
    for (const Extent& e : extents) {
      if (e.offset != offset || e.length == 0 || e.length > end - offset) {
        return InternalError("dmg: extent map does not cover " + Hex(offset));
      }
      if (e.kind != ExtentKind::kData) {
        crc = Crc32ZeroExtend(crc, e.length);
        offset += e.length;
        continue;
      }
      for (uint64_t left = e.length; left > 0;) {
        const auto n = static_cast<size_t>(std::min(left, kCheckBlockBytes));
        buf.resize(std::max(buf.size(), n));
        std::span<std::byte> part(buf.data(), n);
        IMGFS_RETURN_IF_ERROR(dev.Read(offset, part));
        crc = Crc32(part, crc);
        offset += n;
        left -= n;
      }
    }
  }
  return crc;
}

// The CRC-32 of blkx table `table`: its sectors in order, where zero-fill
// chunks count as zeros but ignore chunks (type 2) count as nothing. That is
// the rule of hdiutil's own images: tests/data/dmg-real/ holds ten, made
// with six codecs, where a table of only ignore chunks (Apple_Free) stores
// 0 and every other table matches only this way. Runs of adjacent counted
// chunks are read as one range. `chunks` is the composed map (sorted,
// contiguous), so the table's chunks are found by binary search.
Result<uint32_t> TableCrc(const BlockDevice& dev, const std::vector<MappedChunk>& chunks,
                          uint32_t table, const BlkxTable& blkx) {
  const uint64_t end_sector = blkx.first_sector + blkx.sector_count;  // DecodeBlkx bounded both
  auto it = std::lower_bound(
      chunks.begin(), chunks.end(), blkx.first_sector,
      [](const MappedChunk& c, uint64_t sector) { return c.first_sector < sector; });
  uint32_t crc = 0;
  uint64_t run_sector = 0;
  uint64_t run_sectors = 0;
  auto flush = [&]() -> Status {
    if (run_sectors == 0) {
      return Status::Ok();
    }
    IMGFS_ASSIGN_OR_RETURN(uint32_t run_crc,
                           CrcOfDevice(dev, run_sector * kSectorBytes, run_sectors * kSectorBytes));
    crc = CrcCombine(crc, run_crc, run_sectors * kSectorBytes);
    run_sectors = 0;
    return Status::Ok();
  };
  for (; it != chunks.end() && it->first_sector < end_sector; ++it) {
    const MappedChunk& c = *it;
    if (c.table != table || c.sector_count == 0) {
      continue;
    }
    if (c.type == ChunkType::kIgnore || c.first_sector != run_sector + run_sectors) {
      IMGFS_RETURN_IF_ERROR(flush());
    }
    if (c.type == ChunkType::kIgnore) {
      continue;
    }
    if (run_sectors == 0) {
      run_sector = c.first_sector;
    }
    run_sectors += c.sector_count;
  }
  IMGFS_RETURN_IF_ERROR(flush());
  return crc;
}

// Compares a stored checksum with a computed CRC-32, or says why not.
void Verify(const UdifChecksum& stored, uint32_t computed, const std::string& what,
            CheckReport* report) {
  if (stored.data[0] != computed) {
    report->errors.push_back(what + " checksum mismatch: stored " + Hex(stored.data[0]) +
                             ", computed " + Hex(computed));
  } else {
    report->checked.push_back(what + " crc32 " + Hex(computed));
  }
}

bool Skip(const UdifChecksum& c, const std::string& what, CheckReport* report) {
  if (c.type == kChecksumCrc32) {
    return false;
  }
  if (c.type == kChecksumNone) {
    report->checked.push_back(what + " has no checksum");
  } else {
    report->warnings.push_back(what + " checksum is " + ChecksumTypeName(c.type) +
                               ", which imgfs does not verify");
  }
  return true;
}

// Reported overlaps past this many are only counted: a hostile table can
// make every one of a million chunks share bytes.
constexpr size_t kMaxOverlapLines = 16;

// Returns, per blkx table, whether one of its compressed chunks shares
// stored bytes with another chunk: such a table is not checksummed, as
// decompressing the same bytes once per chunk is how a few KiB of hostile
// image would cost minutes (the overlap is an error already).
std::vector<bool> CheckRanges(const UdifImage& image, const std::vector<MappedChunk>& chunks,
                              CheckReport* report) {
  const Koly& k = image.koly;
  const uint64_t fork_end = image.data_fork_offset + image.data_fork_length;  // LoadUdif checked
  std::vector<bool> shared(image.entries.size(), false);
  auto mark = [&](const MappedChunk& c) {
    if (IsCompressed(c.type) && c.table < shared.size()) {
      shared[c.table] = true;
    }
  };
  std::vector<const MappedChunk*> stored;
  for (const MappedChunk& c : chunks) {
    if (IsZero(c.type)) {
      continue;
    }
    if (c.file_offset < image.data_fork_offset || c.file_offset + c.length > fork_end) {
      report->errors.push_back("chunk at sector " + std::to_string(c.first_sector) + " stores " +
                               std::to_string(c.length) + " bytes at " + Hex(c.file_offset) +
                               ", outside the data fork");
    }
    stored.push_back(&c);
  }
  std::sort(stored.begin(), stored.end(), [](const MappedChunk* a, const MappedChunk* b) {
    return a->file_offset < b->file_offset;
  });
  // Against the chunk reaching furthest so far, so that one long chunk
  // overlapping several others is seen with each of them.
  size_t overlaps = 0;
  const MappedChunk* furthest = stored.empty() ? nullptr : stored[0];
  for (size_t i = 1; i < stored.size(); ++i) {
    const MappedChunk& a = *furthest;
    const MappedChunk& b = *stored[i];
    if (a.file_offset + a.length > b.file_offset) {
      if (++overlaps <= kMaxOverlapLines) {
        report->errors.push_back("chunks at sectors " + std::to_string(a.first_sector) + " and " +
                                 std::to_string(b.first_sector) + " share stored bytes at " +
                                 Hex(b.file_offset));
      }
      mark(a);
      mark(b);
    }
    if (b.file_offset + b.length > a.file_offset + a.length) {
      furthest = &b;
    }
  }
  if (overlaps > kMaxOverlapLines) {
    report->errors.push_back(std::to_string(overlaps - kMaxOverlapLines) +
                             " more chunks share stored bytes with others");
  }
  report->checked.push_back(std::to_string(stored.size()) + " stored chunks inside the data fork");
  const uint64_t composed =
      chunks.empty() ? 0 : chunks.back().first_sector + chunks.back().sector_count;
  if (composed != k.sector_count) {
    report->warnings.push_back("koly sector count " + std::to_string(k.sector_count) +
                               " differs from the blkx tables' " + std::to_string(composed));
  }
  return shared;
}

}  // namespace

std::string ChecksumTypeName(uint32_t type) {
  static constexpr std::array<const char*, 10> kNames = {
      "none", "crc28", "crc32", "dc42", "md5", "sha", "sha1", "sha256", "sha384", "sha512"};
  return type < kNames.size() ? kNames[type] : "type " + std::to_string(type);
}

Result<CheckReport> CheckUdif(const UdifImage& image, const std::vector<MappedChunk>& chunks,
                              const BlockDevice& dev) {
  CheckReport report;
  const Koly& k = image.koly;
  const std::vector<bool> shared = CheckRanges(image, chunks, &report);
  if (image.segments.empty()) {
    if (!Skip(k.data_checksum, "data fork", &report)) {
      IMGFS_ASSIGN_OR_RETURN(uint32_t crc,
                             CrcOfFile(*image.file, k.data_fork_offset, k.data_fork_length));
      Verify(k.data_checksum, crc, "data fork", &report);
    }
  }
  // Each segment's koly checksums that segment's own data fork.
  for (const SegmentFile& s : image.segments) {
    const std::string what = "segment " + std::to_string(s.koly.segment_number) + " data fork";
    if (!Skip(s.koly.data_checksum, what, &report)) {
      IMGFS_ASSIGN_OR_RETURN(uint32_t crc,
                             CrcOfFile(*s.file, s.koly.data_fork_offset, s.koly.data_fork_length));
      Verify(s.koly.data_checksum, crc, what, &report);
    }
  }
  std::vector<UdifChecksum> blkx_checksums;
  for (size_t i = 0; i < image.entries.size(); ++i) {
    const BlkxEntry& e = image.entries[i];
    const std::string what = "blkx " + std::to_string(i) + " '" + e.name + "'";
    if (Skip(e.table.checksum, what, &report)) {
      continue;
    }
    blkx_checksums.push_back(e.table.checksum);
    if (shared[i]) {
      report.errors.push_back(what + " not checksummed: its compressed chunks share stored bytes");
      continue;
    }
    auto crc = TableCrc(dev, chunks, static_cast<uint32_t>(i), e.table);
    if (!crc.ok()) {
      report.errors.push_back(what + " cannot be read: " + crc.status().message());
      continue;
    }
    Verify(e.table.checksum, *crc, what, &report);
  }
  if (!Skip(k.master_checksum, "master", &report)) {
    Verify(k.master_checksum, MasterChecksum(blkx_checksums), "master", &report);
  }
  return report;
}

}  // namespace imgfs::dmg
