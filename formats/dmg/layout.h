// SPDX-License-Identifier: MIT
// Layout planning shared by the DMG writer (writer.cc) and the on-the-fly
// DMG view (virtual_dmg.cc): which blkx resources a disk gets and what they
// are called, and how a blkx's sectors split into data and zero runs.
//
// hdiutil writes one blkx per partition-map structure, partition and gap,
// in sector order, named "<name> (<type> : <n>)" with IDs from -1 upward
// ("Protective Master Boot Record (MBR : 0)", "GPT Header (Primary GPT
// Header : 1)", " (Apple_Free : 3)", ...); a disk without a partition map
// gets one "whole disk (<type> : 0)" blkx with ID 0. The names come from
// hdiutil transcripts and images quoted in formats/dmg/WRITER.md, which
// also says where each block-descriptor value comes from.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/partition/partition_table.h"
#include "core/result.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg {

// hdiutil's chunk size: its images record buffers-needed 0x801 to 0x808
// and split zero-fill runs every 2048 sectors, i.e. chunks of 1 MiB.
inline constexpr uint64_t kDefaultChunkSectors = 2048;
// The largest chunk, read or written: 64 MiB. hdiutil writes at most 2048
// sectors (1 MiB) per chunk; the reader allows other writers more while
// bounding what one hostile chunk can make it allocate (compressed chunks
// above this are refused). qemu's dmg driver refuses any chunk of more
// than 64 MiB (DMG_SECTOR_MAX, DMG_LENGTHS_MAX), zero-fill chunks
// included, so the writer never writes larger ones.
inline constexpr uint64_t kMaxChunkSectors = (64ULL << 20) / kSectorBytes;

// mish block-descriptor values with a meaning of their own (libdmg-hfsplus
// names them DDM_DESCRIPTOR and ENTIRE_DEVICE_DESCRIPTOR; hdiutil's
// whole-disk image in tests/data/dmg-real/nodeudif-raw.dmg has the latter).
inline constexpr uint32_t kDescriptorDdm = 0xffffffff;
inline constexpr uint32_t kDescriptorEntireDevice = 0xfffffffe;

// One planned blkx: a run of whole sectors of the disk.
struct BlkxRegion {
  std::string name;     // "disk image (Apple_HFS : 4)"
  int32_t id = -1;      // number - 1, as hdiutil numbers them; 0 for a whole disk
  uint32_t number = 0;  // the "<n>" in the name
  uint64_t first_sector = 0;
  uint64_t sector_count = 0;
  // The mish block-descriptor field: the number n for MBR and GPT maps
  // (hdiutil), the ID for APM maps with kDescriptorDdm for the DDM
  // (libdmg-hfsplus), kDescriptorEntireDevice for a whole disk.
  uint32_t descriptor = 0;
  // Apple_Free: space no partition uses. Its zero runs are written as
  // ignore (type 2) chunks whatever their length, as hdiutil does.
  bool free_space = false;
};

struct DiskLayout {
  uint64_t size_bytes = 0;    // the source's size
  uint64_t sector_count = 0;  // size rounded up to whole sectors
  PartitionScheme scheme = PartitionScheme::kNone;
  uint32_t image_variant = kVariantPartition;
  // In sector order, covering [0, sector_count) without gaps or overlap.
  // An empty disk has one empty whole-disk region.
  std::vector<BlkxRegion> regions;
  std::vector<std::string> notes;  // e.g. why the partition map was not used
};

// Where the GPT structures lie, read from the primary header (sector 1).
struct GptGeometry {
  uint64_t entries_lba = 2;
  uint64_t entries_sectors = 32;
  uint64_t backup_header_lba = 0;
};

// Plans the blkx regions of a disk of `size_bytes` with partition table
// `table`. `whole_disk_type` names the content of a disk without a map
// ("Apple_HFS"); `gpt` gives the GPT structures when table.scheme is kGpt.
// A table whose partitions overlap, leave the disk or are not whole 512-byte
// sectors falls back to one whole-disk region and says why in `notes`: the
// output stays byte-identical, only the partition names are lost.
DiskLayout PlanLayout(uint64_t size_bytes, const PartitionTable& table, const GptGeometry& gpt,
                      std::string_view whole_disk_type);

// Reads the device's partition table (and GPT header) and plans its layout.
// Read errors are returned; a damaged table falls back to the whole disk.
Result<DiskLayout> PlanDeviceLayout(const BlockDevice& dev);

// A run of sectors that is either data (some byte of it lies in a kData
// extent) or zero (all of it is zero or unallocated, including the padding
// past the end of a disk whose size is not a multiple of 512).
struct SectorRun {
  uint64_t first_sector = 0;
  uint64_t sector_count = 0;
  bool data = false;
};

// Appends the runs of sectors [first_sector, first_sector + sector_count) of
// `dev` to `out`, in order and without gaps; adjacent runs of one kind are
// merged. Reads at most one window of extents at a time, so memory stays
// bounded; callers pass windows (see kRunWindowSectors).
Status CollectSectorRuns(const BlockDevice& dev, uint64_t first_sector, uint64_t sector_count,
                         std::vector<SectorRun>* out);

// Window for CollectSectorRuns: 1 GiB of sectors.
inline constexpr uint64_t kRunWindowSectors = (1ULL << 30) / kSectorBytes;

// Walks `region` of `dev` window by window and calls fn for each piece, in
// order: data runs split on a grid of chunk_sectors counted from the
// region's first sector (so chunk boundaries do not depend on how a device
// reports its extents), zero runs whole unless split_zero. Stops at the
// first error, from the device or from fn.
// REQUIRES: chunk_sectors >= 1.
Status ForEachPiece(const BlockDevice& dev, const BlkxRegion& region, uint64_t chunk_sectors,
                    bool split_zero, const std::function<Status(const SectorRun&)>& fn);

// Appends the chunks of a zero run of `count` sectors at sector `rel` of
// `region` (relative to its first sector), as hdiutil shapes them: a
// zero-fill (type 0) chunk never crosses the chunk grid (cells of
// chunk_sectors from the region's start, so it stays within the buffers
// the table declares), and space nothing uses is an ignore (type 2) chunk
// of any length up to kMaxChunkSectors. A run in free space is all ignore
// chunks; elsewhere the grid cells it covers whole are ignore chunks and
// the partial cells at its ends zero-fill chunks. Both kinds carry offset
// `fork_offset` (the data-fork position) and length 0: hdiutil's newer
// images put zero-fill chunks at offset 0, but dmg2img 1.6.7 takes a blkx
// whose first chunk is at offset 0 for one whose offsets continue the
// previous blkx's (that is how it misreads those images), so we follow
// the older images' habit for zero-length chunks. The blkx CRC-32 counts
// zero-fill sectors as zeros and leaves ignore sectors out.
// REQUIRES: 1 <= chunk_sectors <= kMaxChunkSectors.
void AppendZeroChunks(const BlkxRegion& region, uint64_t chunk_sectors, uint64_t rel,
                      uint64_t count, uint64_t fork_offset, std::vector<Chunk>* out);

// The mish "buffers needed" of a table whose chunks are at most
// chunk_sectors and stored with `codec` (nullopt: raw chunks). hdiutil's
// images declare the chunk's 2048 sectors plus a per-codec margin: zlib 8,
// ADC 1, bzip2 3, LZFSE 5, LZMA 3, and 0 when nothing is compressed.
uint32_t BuffersNeeded(std::optional<ChunkType> codec, uint64_t chunk_sectors);

}  // namespace imgfs::dmg
