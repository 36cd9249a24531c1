// SPDX-License-Identifier: MIT
// The seSparse headers and table entries (see sesparse.h).
#include "formats/vmdk/sesparse.h"

#include <string>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::vmdk {
namespace {

// Constant header fields (QEMU's VMDKSESparseConstHeader).
constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 8;
constexpr size_t kCapacityAt = 16;
constexpr size_t kGrainSizeAt = 24;
constexpr size_t kGtSizeAt = 32;
constexpr size_t kFlagsAt = 40;
constexpr size_t kReservedAt = 48;  // four words
constexpr size_t kReservedWords = 4;
constexpr size_t kVolatileAt = 80;  // then (offset, size) pairs, 16 bytes each
constexpr size_t kJournalHeaderAt = 96;
constexpr size_t kJournalAt = 112;
constexpr size_t kGdAt = 128;
constexpr size_t kGtsAt = 144;
constexpr size_t kFreeBitmapAt = 160;
constexpr size_t kBackmapAt = 176;
constexpr size_t kGrainsAt = 192;

// Volatile header fields.
constexpr size_t kVolatileMagicAt = 0;
constexpr size_t kReplayJournalAt = 24;

// Grain directory and table entries.
constexpr unsigned kTypeShift = 60;
constexpr uint64_t kGdeAllocatedHigh = 0x10000000;  // the top 32 bits of a used entry
constexpr uint64_t kGteClusterLowMask = 0x0fff000000000000;
constexpr unsigned kGteClusterLowShift = 48;
constexpr uint64_t kGteClusterHighMask = 0x0000ffffffffffff;
constexpr unsigned kGteClusterHighShift = 12;

// Byte offsets of every region stay below 2^63.
bool SectorAbsurd(uint64_t sector) { return sector > kMaxCapacitySectors; }

}  // namespace

uint64_t SeSparseHeader::gd_entries_needed() const {
  return DivRoundUp(capacity_sectors, grain_sectors * kSeSparseGtesPerGt);
}

bool IsSeSparseMagic(std::span<const std::byte> head) {
  return head.size() >= 8 && LoadLE64(head.data()) == kSeSparseMagic;
}

Result<SeSparseHeader> DecodeSeSparseHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kSeSparseHeaderBytes) {
    return CorruptError("vmdk: seSparse constant header is truncated (" +
                        std::to_string(bytes.size()) + " bytes, need 512)");
  }
  const std::byte* p = bytes.data();
  if (LoadLE64(p + kMagicAt) != kSeSparseMagic) {
    return CorruptError("vmdk: seSparse constant header has magic " + Hex(LoadLE64(p)) +
                        ", not 0xcafebabe");
  }
  if (const uint64_t v = LoadLE64(p + kVersionAt); v != kSeSparseVersion) {
    return UnsupportedError("vmdk: seSparse version " + Hex(v) +
                            " is not supported (only 0x200000001)");
  }
  SeSparseHeader h;
  h.capacity_sectors = LoadLE64(p + kCapacityAt);
  h.grain_sectors = LoadLE64(p + kGrainSizeAt);
  h.gt_sectors = LoadLE64(p + kGtSizeAt);
  if (h.grain_sectors != kSeSparseGrainSectors || h.gt_sectors != kSeSparseGtSectors) {
    return UnsupportedError("vmdk: seSparse grain size " + std::to_string(h.grain_sectors) +
                            " and grain table size " + std::to_string(h.gt_sectors) +
                            " sectors are not supported (only 8 and 64)");
  }
  if (const uint64_t flags = LoadLE64(p + kFlagsAt); flags != 0) {
    return UnsupportedError("vmdk: seSparse header has unknown flags " + Hex(flags));
  }
  for (size_t i = 0; i < kReservedWords; ++i) {
    if (LoadLE64(p + kReservedAt + 8 * i) != 0) {
      return UnsupportedError("vmdk: seSparse header has non-zero reserved words");
    }
  }
  auto pair = [p](size_t at, uint64_t* sector, uint64_t* sectors) {
    *sector = LoadLE64(p + at);
    *sectors = LoadLE64(p + at + 8);
  };
  pair(kVolatileAt, &h.volatile_sector, &h.volatile_sectors);
  pair(kJournalHeaderAt, &h.journal_header_sector, &h.journal_header_sectors);
  pair(kJournalAt, &h.journal_sector, &h.journal_sectors);
  pair(kGdAt, &h.gd_sector, &h.gd_sectors);
  pair(kGtsAt, &h.gts_sector, &h.gts_sectors);
  pair(kFreeBitmapAt, &h.free_bitmap_sector, &h.free_bitmap_sectors);
  pair(kBackmapAt, &h.backmap_sector, &h.backmap_sectors);
  pair(kGrainsAt, &h.grains_sector, &h.grains_sectors);
  if (h.capacity_sectors > kMaxCapacitySectors) {
    return CorruptError("vmdk: seSparse capacity of " + std::to_string(h.capacity_sectors) +
                        " sectors is absurd");
  }
  const uint64_t needed = h.gd_entries_needed();
  if (needed > kMaxGdEntries) {
    return UnsupportedError("vmdk: seSparse grain directory of " + std::to_string(needed) +
                            " entries is over the cap of " + std::to_string(kMaxGdEntries));
  }
  if (h.volatile_sector == 0 || h.volatile_sectors == 0 || SectorAbsurd(h.volatile_sector)) {
    return CorruptError("vmdk: seSparse volatile header at sector " +
                        std::to_string(h.volatile_sector) + " is missing or absurd");
  }
  if (SectorAbsurd(h.gd_sector) || SectorAbsurd(h.gts_sector) || SectorAbsurd(h.grains_sector)) {
    return CorruptError("vmdk: seSparse grain directory, tables or grains offset is absurd");
  }
  if (needed > 0) {
    if (h.gd_sector == 0) {
      return CorruptError("vmdk: seSparse header has no grain directory");
    }
    const auto entries = CheckedMul(h.gd_sectors, 512 / 8);
    if (entries && *entries < needed) {
      return CorruptError("vmdk: seSparse grain directory of " + std::to_string(*entries) +
                          " entries does not cover " + std::to_string(h.capacity_sectors) +
                          " sectors (" + std::to_string(needed) + " needed)");
    }
  }
  return h;
}

Status CheckSeSparseVolatileHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kSeSparseHeaderBytes) {
    return CorruptError("vmdk: seSparse volatile header is truncated (" +
                        std::to_string(bytes.size()) + " bytes, need 512)");
  }
  if (const uint64_t magic = LoadLE64(bytes.data() + kVolatileMagicAt);
      magic != kSeSparseVolatileMagic) {
    return CorruptError("vmdk: seSparse volatile header has magic " + Hex(magic) +
                        ", not 0xcafecafe");
  }
  if (LoadLE64(bytes.data() + kReplayJournalAt) != 0) {
    return UnsupportedError(
        "vmdk: seSparse journal must be replayed first (the disk was not closed cleanly)");
  }
  return Status::Ok();
}

SparseHeader AsSparseHeader(const SeSparseHeader& h) {
  SparseHeader s;
  s.version = 1;
  s.flags = 0;
  s.sesparse = true;
  s.capacity_sectors = h.capacity_sectors;
  s.grain_sectors = h.grain_sectors;
  s.gtes_per_gt = kSeSparseGtesPerGt;
  s.gd_sector = h.gd_sector;
  s.gts_sector = h.gts_sector;
  s.grains_sector = h.grains_sector;
  return s;
}

Result<std::optional<uint64_t>> DecodeSeSparseGde(uint64_t entry) {
  if (entry == 0) {
    return std::optional<uint64_t>();
  }
  if ((entry >> 32) != kGdeAllocatedHigh) {
    return CorruptError("vmdk: seSparse grain directory entry " + Hex(entry) +
                        " is neither empty nor a grain table");
  }
  return std::optional<uint64_t>(entry & 0xffffffff);
}

Result<SeGrain> DecodeSeSparseGte(uint64_t entry) {
  switch (entry >> kTypeShift) {
    case 0:
      if (entry != 0) {
        break;
      }
      return SeGrain{SeGrainKind::kUnallocated, 0};
    case 1:
      return SeGrain{SeGrainKind::kUnmapped, 0};
    case 2:
      return SeGrain{SeGrainKind::kZero, 0};
    case 3:
      return SeGrain{SeGrainKind::kAllocated,
                     ((entry & kGteClusterLowMask) >> kGteClusterLowShift) |
                         ((entry & kGteClusterHighMask) << kGteClusterHighShift)};
    default:
      break;
  }
  return CorruptError("vmdk: seSparse grain table entry " + Hex(entry) + " has an invalid type");
}

}  // namespace imgfs::vmdk
