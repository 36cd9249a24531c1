// SPDX-License-Identifier: MIT
// The hosted sparse extent header (VMware "Virtual Disk Format 1.1",
// "Hosted Sparse Extent Header"): 512 little-endian bytes at the start of a
// SPARSE extent, magic "KDMV", versions 1 to 3. streamOptimized extents
// (compressed grains behind grain markers) may say their grain directory
// is "at end": the real values are then in the footer, a copy of the
// header in the second-to-last sector of the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"

namespace imgfs::vmdk {

inline constexpr size_t kSparseHeaderBytes = 512;
inline constexpr uint32_t kSparseMagic = 0x564d444b;  // "KDMV" read as little-endian
inline constexpr uint64_t kGdAtEnd = ~uint64_t{0};

// Header flags.
inline constexpr uint32_t kFlagNewlineTest = 1u << 0;
inline constexpr uint32_t kFlagRedundantGd = 1u << 1;
inline constexpr uint32_t kFlagZeroGrain = 1u << 2;  // GTE 1 = a grain of zeros
inline constexpr uint32_t kFlagCompressed = 1u << 16;
inline constexpr uint32_t kFlagMarkers = 1u << 17;
inline constexpr uint32_t kKnownFlags =
    kFlagNewlineTest | kFlagRedundantGd | kFlagZeroGrain | kFlagCompressed | kFlagMarkers;

inline constexpr uint16_t kCompressNone = 0;
inline constexpr uint16_t kCompressDeflate = 1;

// Caps (kCorrupt above them): VMware writes 128-sector grains and 512
// entries per table; larger grains cost a cache slot each when compressed.
inline constexpr uint64_t kMaxGrainSectors = uint64_t{1} << 16;  // 32 MiB
inline constexpr uint32_t kMaxGtesPerGt = 1u << 16;              // 256 KiB tables
// 2^54 sectors: every byte offset fits in 63 bits.
inline constexpr uint64_t kMaxCapacitySectors = uint64_t{1} << 54;
// A grain directory of more entries is refused (kUnsupported): 32 MiB.
inline constexpr uint64_t kMaxGdEntries = uint64_t{1} << 23;

struct SparseHeader {
  uint32_t version = 1;
  uint32_t flags = kFlagNewlineTest | kFlagRedundantGd;
  uint64_t capacity_sectors = 0;
  uint64_t grain_sectors = 128;
  uint64_t descriptor_sector = 0;  // 0: no embedded descriptor
  uint64_t descriptor_sectors = 0;
  uint32_t gtes_per_gt = 512;
  uint64_t rgd_sector = 0;
  uint64_t gd_sector = 0;  // kGdAtEnd: read the footer
  uint64_t overhead_sectors = 0;
  bool unclean_shutdown = false;
  uint16_t compress_algorithm = kCompressNone;
  bool cowd = false;  // decoded from a COWD header
  // Decoded from a seSparse header (sesparse.h): 64-bit directory and table
  // entries; grain table i at gts_sector + 64 * i, cluster c at
  // grains_sector + 8 * c.
  bool sesparse = false;
  uint64_t gts_sector = 0;
  uint64_t grains_sector = 0;

  bool compressed() const { return (flags & kFlagCompressed) != 0; }
  bool markers() const { return (flags & kFlagMarkers) != 0; }
  bool zero_grain() const { return (flags & kFlagZeroGrain) != 0; }
  uint64_t grain_bytes() const { return grain_sectors * 512; }
  // Guest sectors one grain table covers.
  uint64_t gt_coverage_sectors() const { return grain_sectors * gtes_per_gt; }
  // Grain directory entries the capacity needs.
  uint64_t gd_entries() const;
};

// Decodes 512 bytes. kCorrupt for a wrong magic, a zero or non-power-of-two
// grain, sizes over the caps, a newline test the file's transfer broke;
// kUnsupported for versions above 3, unknown incompatible flags or a
// compression algorithm other than deflate.
Result<SparseHeader> DecodeSparseHeader(std::span<const std::byte> bytes);
std::vector<std::byte> EncodeSparseHeader(const SparseHeader& header);  // tests

// The ESX sparse extent header ("COWD", vmfsSparse -delta.vmdk files,
// VMware ESX 3.x), per libvmdk's format documentation: 32-bit fields,
// grain tables of a fixed 4096 entries, no zeroed or compressed grains.
// Decoded into a SparseHeader (cowd = true) so one lookup serves both.
inline constexpr uint32_t kCowdMagic = 0x44574f43;  // "COWD" read as little-endian
inline constexpr uint32_t kCowdGtesPerGt = 4096;
inline constexpr size_t kCowdHeaderBytes = 2048;
// kCorrupt for a wrong magic, a zero or non-power-of-two grain, or a
// directory that does not cover the capacity or is over the cap;
// kUnsupported for versions other than 1.
Result<SparseHeader> DecodeCowdHeader(std::span<const std::byte> bytes);
// Tests: a COWD header for `h` (capacity, grain, gd_sector) with
// `gd_entries` directory entries; the rest zero.
std::vector<std::byte> EncodeCowdHeader(const SparseHeader& h, uint32_t gd_entries);

// A stream marker (streamOptimized): the 12 bytes in front of every
// compressed grain (guest sector, compressed byte count), or a metadata
// marker when size is 0.
inline constexpr size_t kGrainMarkerBytes = 12;

}  // namespace imgfs::vmdk
