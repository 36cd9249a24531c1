// SPDX-License-Identifier: MIT
// The seSparse extent ("space-efficient sparse", ESXi 6.5+ snapshot deltas,
// SESPARSE extent lines). VMware publishes no specification; this follows
// what QEMU's block/vmdk.c reads (read-only since QEMU 4.1) and the
// structures dissect.hypervisor names. All fields are little-endian 64-bit
// integers; offsets and sizes are in 512-byte sectors.
//
// - Sector 0, the constant header: magic 0x00000000CAFEBABE, version
//   0x0000000200000001, capacity, grain size (8 sectors), grain table size
//   (64 sectors: 4096 entries), flags, four reserved words, then
//   (offset, size) pairs for the volatile header, journal header, journal,
//   grain directory, grain tables, free bitmap, back map and grains.
// - The volatile header (magic 0x00000000CAFECAFE): free grain table
//   number, next transaction sequence number, replay-journal flag.
// - Grain directory entries: 0 (no table) or 0x10000000_xxxxxxxx, the index
//   of a table in the grain tables region (table i at gts + 64 * i).
// - Grain table entries, type in the top 4 bits: 0 unallocated (the whole
//   entry is 0), 1 unmapped (SCSI UNMAP) and 2 zero (both read as zeros),
//   3 allocated, other types invalid. An allocated entry splits its
//   cluster number: bits 48..59 hold the low 12 bits, bits 0..47 the high
//   48. Cluster c is the grain at sector grains + 8 * c.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/result.h"
#include "formats/vmdk/header.h"

namespace imgfs::vmdk {

inline constexpr size_t kSeSparseHeaderBytes = 512;
inline constexpr uint64_t kSeSparseMagic = 0xcafebabe;
inline constexpr uint64_t kSeSparseVolatileMagic = 0xcafecafe;
inline constexpr uint64_t kSeSparseVersion = 0x0000000200000001;
// The only grain and grain table sizes ESXi writes (and QEMU reads).
inline constexpr uint64_t kSeSparseGrainSectors = 8;
inline constexpr uint64_t kSeSparseGtSectors = 64;
inline constexpr uint32_t kSeSparseGtesPerGt = kSeSparseGtSectors * 512 / 8;  // 4096

// The constant header, as stored.
struct SeSparseHeader {
  uint64_t capacity_sectors = 0;
  uint64_t grain_sectors = kSeSparseGrainSectors;
  uint64_t gt_sectors = kSeSparseGtSectors;
  uint64_t volatile_sector = 0, volatile_sectors = 0;
  uint64_t journal_header_sector = 0, journal_header_sectors = 0;
  uint64_t journal_sector = 0, journal_sectors = 0;
  uint64_t gd_sector = 0, gd_sectors = 0;
  uint64_t gts_sector = 0, gts_sectors = 0;  // the grain tables region
  uint64_t free_bitmap_sector = 0, free_bitmap_sectors = 0;
  uint64_t backmap_sector = 0, backmap_sectors = 0;
  uint64_t grains_sector = 0, grains_sectors = 0;
  // Directory entries the capacity needs; the directory may hold more.
  uint64_t gd_entries_needed() const;
};

// True when `head` starts with the seSparse magic (8 bytes).
bool IsSeSparseMagic(std::span<const std::byte> head);

// Decodes sector 0. kCorrupt for a truncated header, a wrong magic, an
// absurd capacity, a missing volatile header or grain directory, or a
// directory too small for the capacity; kUnsupported for another version,
// grain or grain table size, non-zero flags or reserved words, or a
// directory over kMaxGdEntries.
Result<SeSparseHeader> DecodeSeSparseHeader(std::span<const std::byte> bytes);

// Checks the volatile header (512 bytes at volatile_sector). kCorrupt for a
// truncated header or a wrong magic; kUnsupported when the journal must be
// replayed (the image was not closed cleanly: its tables may be stale).
Status CheckSeSparseVolatileHeader(std::span<const std::byte> bytes);

// The header as the shared sparse lookup sees it (sesparse = true).
SparseHeader AsSparseHeader(const SeSparseHeader& h);

// A grain directory entry: the grain table index, or nullopt for none.
// kCorrupt for an entry that is neither 0 nor 0x10000000_xxxxxxxx.
Result<std::optional<uint64_t>> DecodeSeSparseGde(uint64_t entry);

enum class SeGrainKind : uint8_t { kUnallocated, kUnmapped, kZero, kAllocated };
struct SeGrain {
  SeGrainKind kind = SeGrainKind::kUnallocated;
  uint64_t cluster = 0;  // kAllocated: the grain's index in the grains region
};
// A grain table entry. kCorrupt for types 4..15 and for an unallocated
// entry with any bit set.
Result<SeGrain> DecodeSeSparseGte(uint64_t entry);

}  // namespace imgfs::vmdk
