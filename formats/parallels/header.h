// SPDX-License-Identifier: MIT
// The Parallels expandable image header and format extension, after qemu's
// docs/interop/parallels.txt (the only written spec). All little-endian:
//
//   0x00  magic[16]  "WithoutFreeSpace" (BAT entries in sectors) or
//                    "WithouFreSpacExt" (BAT entries in clusters)
//   0x10  version (2)     0x14 heads     0x18 cylinders
//   0x1c  tracks: the cluster size in sectors
//   0x20  BAT entries     0x24 nb_sectors (u64; the old magic uses only
//                         the low 32 bits)
//   0x2c  in_use: 0x746f6e59 open read-write (dirty), 0x312e3276 closed,
//         0 written by old software
//   0x30  data_off: the data area, in sectors (0: after the BAT)
//   0x34  flags: bit 0 "empty image", the disk reads as zeros
//   0x38  ext_off (u64): the format extension cluster, in sectors (0: none)
//   0x40  the BAT: one u32 per cluster, 0 = not allocated
//
// The format extension cluster holds a magic, an MD5 we do not verify and
// a list of {magic u64, flags u64, size u32, pad u32, data} features ending
// with a zero magic; the one known feature is a dirty bitmap, whose clusters
// are only reported (a read never needs it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace imgfs::parallels {

inline constexpr size_t kHeaderBytes = 64;  // the BAT starts right after
inline constexpr size_t kMagicBytes = 16;
inline constexpr char kMagicSectors[] = "WithoutFreeSpace";
inline constexpr char kMagicClusters[] = "WithouFreSpacExt";
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kInUseDirty = 0x746f6e59;   // "Ynot": open read-write
inline constexpr uint32_t kInUseClosed = 0x312e3276;  // "v2.1": closed cleanly
inline constexpr uint32_t kFlagEmpty = 1;             // bit 0: the image is clear

// Cluster sizes: qemu writes 1 MiB, older Parallels 63 sectors and 256 or
// 252 KiB. 256 MiB keeps one cluster a sane unit to read and cache.
inline constexpr uint32_t kMaxClusterSectors = uint32_t{256} << 11;
// Disk sizes: byte offsets stay far from overflow (2^62 bytes).
inline constexpr uint64_t kMaxDiskSectors = uint64_t{1} << 53;

// The format extension (parallels.txt "Format Extension").
inline constexpr uint64_t kExtMagic = 0xab234cef23dcea87;
inline constexpr uint64_t kFeatureEnd = 0;
inline constexpr uint64_t kFeatureDirtyBitmap = 0x20385fae252cb34a;
// Bytes of the extension cluster read at open: features are a few hundred
// bytes; a dirty bitmap's L1 table of 4 MiB covers any real disk.
inline constexpr uint64_t kMaxExtReadBytes = uint64_t{4} << 20;

struct Header {
  bool cluster_offsets = true;  // "WithouFreSpacExt": BAT entries count clusters
  uint32_t heads = 0;
  uint32_t cylinders = 0;
  uint32_t cluster_sectors = 0;  // "tracks"
  uint32_t bat_entries = 0;
  uint64_t disk_sectors = 0;
  uint32_t in_use = 0;
  uint64_t data_offset = 0;  // bytes; computed when data_off is 0
  uint32_t flags = 0;
  uint64_t ext_offset = 0;  // bytes; 0: no format extension

  uint64_t cluster_bytes() const { return uint64_t{cluster_sectors} * 512; }
  uint64_t disk_bytes() const { return disk_sectors * 512; }
  bool dirty() const { return in_use == kInUseDirty; }
  bool empty() const { return (flags & kFlagEmpty) != 0; }
  const char* magic() const { return cluster_offsets ? kMagicClusters : kMagicSectors; }
  // File offset of the cluster a non-zero BAT entry names.
  uint64_t EntryHostOffset(uint32_t entry) const {
    return uint64_t{entry} * (cluster_offsets ? cluster_bytes() : 512);
  }
};

// True when `bytes` start with one of the two magics.
bool HasMagic(std::span<const std::byte> bytes);

// Decodes and validates the header in `bytes` (the file's first
// kHeaderBytes, or all of it when shorter) of a file of `file_size` bytes.
// kCorrupt for a short file, a bad magic, an unknown in-use value, a BAT
// past the end of the file or overlapping the data area, a disk larger than
// its BAT covers, an extension cluster past the end of the file;
// kUnsupported for another version or a cluster size over the cap.
// Messages name the field's offset.
Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size);

// Encodes `h` as the 64 header bytes (tests and the fuzz corpus).
std::vector<std::byte> EncodeHeader(const Header& h);

struct DirtyBitmap {
  uint64_t size_sectors = 0;
  std::string id;  // 16 bytes as hex
  uint32_t granularity_sectors = 0;
  std::vector<uint64_t> l1;  // 0: all clear, 1: all set, else a sector offset
};

// What the format extension cluster holds. Problems with it never stop a
// read: they become `problems`, which info shows and check reports.
struct Extension {
  std::vector<uint64_t> unknown_features;  // magics
  std::vector<DirtyBitmap> bitmaps;
  std::vector<std::string> problems;
};

// Decodes the extension cluster's bytes (at most kMaxExtReadBytes).
Extension DecodeExtension(std::span<const std::byte> bytes);

}  // namespace imgfs::parallels
