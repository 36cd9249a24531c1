// SPDX-License-Identifier: MIT
// The Bochs growing ("redolog") disk image header. No formal spec: the
// layout is the one Bochs's own sources describe (iodev/hdimage/hdimage.h,
// redolog_header_t and its "specific" part) and qemu's block/bochs.c reads.
// All fields little-endian, in a 512-byte header:
//
//   0x00  magic[32]   "Bochs Virtual HD Image"
//   0x20  type[16]    "Redolog"
//   0x30  subtype[16] "Growing" (also "Undoable", "Volatile": refused)
//   0x40  version     0x00020000 (v2), 0x00010000 (v1)
//   0x44  header      header size in bytes (the catalog follows it)
//   0x48  catalog     number of catalog entries (extents)
//   0x4c  bitmap      bytes of a sector bitmap (one bit per extent sector)
//   0x50  extent      bytes of an extent's data
//   v2:   0x54 timestamp, 0x58 disk size (u64)
//   v1:   0x54 disk size (u64)
//
// The catalog is `catalog` u32 entries at `header`: 0xffffffff for an
// extent never written, else the number of the stored extent. Stored
// extent k starts at header + catalog * 4 + k * 512 * (bitmap sectors +
// extent sectors): first its bitmap (rounded up to whole sectors), then its
// data. A sector whose bitmap bit (byte s / 8, bit s % 8) is clear reads as
// zeros.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"

namespace imgfs::bochs {

inline constexpr size_t kHeaderBytes = 512;  // what Bochs writes and we read
inline constexpr char kMagic[] = "Bochs Virtual HD Image";
inline constexpr char kRedologType[] = "Redolog";
inline constexpr char kGrowingSubtype[] = "Growing";
inline constexpr size_t kMagicOffset = 0x00;
inline constexpr size_t kMagicField = 32;
inline constexpr size_t kTypeOffset = 0x20;
inline constexpr size_t kSubtypeOffset = 0x30;
inline constexpr size_t kTypeField = 16;
inline constexpr size_t kVersionOffset = 0x40;
inline constexpr size_t kHeaderSizeOffset = 0x44;
inline constexpr size_t kCatalogOffset = 0x48;
inline constexpr size_t kBitmapOffset = 0x4c;
inline constexpr size_t kExtentOffset = 0x50;
inline constexpr size_t kDiskOffsetV1 = 0x54;
inline constexpr size_t kTimestampOffsetV2 = 0x54;
inline constexpr size_t kDiskOffsetV2 = 0x58;

inline constexpr uint32_t kVersion1 = 0x00010000;
inline constexpr uint32_t kVersion2 = 0x00020000;
inline constexpr uint32_t kFreeExtent = 0xffffffff;

// Caps, each over what Bochs and qemu accept.
// qemu refuses extents over 8 MiB; bximage writes 4 KiB..64 KiB ones.
inline constexpr uint32_t kMaxExtentBytes = uint32_t{8} << 20;
// A bitmap needs extent / 4096 bytes (2 KiB at 8 MiB); more is waste we
// would read per extent.
inline constexpr uint32_t kMaxBitmapBytes = uint32_t{1} << 20;
// 256 MiB of catalog: 2^26 extents, 512 TiB at 8 MiB extents.
inline constexpr uint32_t kMaxCatalogEntries = uint32_t{1} << 26;
// The catalog follows the header; a header larger than this is not Bochs's.
inline constexpr uint32_t kMaxHeaderSize = uint32_t{1} << 20;

struct Header {
  uint32_t version = kVersion2;
  uint32_t header_bytes = kHeaderBytes;  // where the catalog starts
  uint32_t catalog_entries = 0;
  uint32_t bitmap_bytes = 0;
  uint32_t extent_bytes = 0;  // a power of two, 512..kMaxExtentBytes
  uint32_t timestamp = 0;     // v2 only
  uint64_t disk_bytes_stored = 0;
  uint64_t disk_bytes = 0;  // rounded down to a sector, as qemu does

  uint32_t major() const { return version >> 16; }
  // Sectors an extent's bitmap takes on disk (whole sectors).
  uint64_t bitmap_sectors() const { return (uint64_t{bitmap_bytes} + 511) / 512; }
  uint64_t extent_sectors() const { return extent_bytes / 512; }
  // Where stored extents start: right after the catalog.
  uint64_t data_offset() const { return uint64_t{header_bytes} + uint64_t{catalog_entries} * 4; }
  // Host bytes of one stored extent (bitmap + data).
  uint64_t stride_bytes() const { return 512 * (bitmap_sectors() + extent_sectors()); }
  uint64_t BitmapHostOffset(uint32_t stored) const {
    return data_offset() + uint64_t{stored} * stride_bytes();
  }
  uint64_t DataHostOffset(uint32_t stored) const {
    return BitmapHostOffset(stored) + 512 * bitmap_sectors();
  }
};

// True when `head` starts with the Bochs magic and "Redolog" type.
bool HasMagic(std::span<const std::byte> head);

// Decodes and validates the header in `bytes` (the file's first
// kHeaderBytes, or all of a shorter file) of a file of `file_size` bytes.
// kCorrupt for a short file, a bad magic, a catalog past the end of the
// file, a bitmap too small for its extent or a disk larger than the
// catalog covers; kUnsupported for another version or subtype (named), or
// a size over a cap. Messages name the field's offset.
Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size);

}  // namespace imgfs::bochs
