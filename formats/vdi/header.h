// SPDX-License-Identifier: MIT
// The VDI (VirtualBox Disk Image) header. There is no published spec; the
// layout follows the VirtualBox sources' own description of it
// (src/VBox/Storage/VDICore.h: VDIPREHEADER, VDIHEADER0, VDIHEADER1 and
// VDIHEADER1PLUS), all fields little-endian:
//
//   0x00  64-byte text ("<<< Oracle VM VirtualBox Disk Image >>>\n", qemu
//         writes "<<< QEMU VM Virtual Disk Image >>>\n"); never checked
//   0x40  signature 0xbeda107f          0x44  version (major << 16 | minor)
//   v1.x: 0x48 header size, 0x4c type, 0x50 flags, 0x54 comment[256],
//         0x154 block map offset, 0x158 data offset, 0x15c legacy geometry,
//         0x170 disk size (u64), 0x178 block size, 0x17c block extra,
//         0x180 blocks in image, 0x184 blocks allocated, 0x188 image UUID,
//         0x198 modification UUID, 0x1a8 parent (link) UUID, 0x1b8 parent
//         modification UUID
//   v0 (version 0x00000002): no header size, offsets or block extra; the
//         block map follows the 348-byte header at 0x1a4, the data the map.
//
// The block map holds one u32 per block: the index of the stored block
// (data at data offset + index * (block size + block extra) + block extra),
// 0xffffffff (never written: the parent's bytes, or zeros in a base image)
// or 0xfffffffe (discarded: zeros).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"

namespace imgfs::vdi {

// Pre-header (VDIPREHEADER).
inline constexpr size_t kSignatureOffset = 0x40;
inline constexpr size_t kVersionOffset = 0x44;
inline constexpr uint32_t kSignature = 0xbeda107f;
inline constexpr size_t kTextBytes = 64;

// Versions: 1.1 is what VirtualBox and qemu write; 0.2 is the oldest layout
// VirtualBox still opens.
inline constexpr uint32_t kVersion1_1 = 0x00010001;
inline constexpr uint32_t kVersion0 = 0x00000002;

// Bytes read for DecodeHeader: the whole v1.1+ header (0x1d8) rounded to a
// sector (a v1 header ends at 0x1c8 at least, a v0 header at 0x1a4).
inline constexpr size_t kHeaderReadBytes = 512;

// Block map entries that are not block indexes (VDICore.h VDI_IMAGE_BLOCK_*).
inline constexpr uint32_t kBlockFree = 0xffffffff;  // unallocated: parent or zeros
inline constexpr uint32_t kBlockZero = 0xfffffffe;  // discarded: reads as zeros

// Block sizes: VirtualBox opens 128 KiB..128 MiB; smaller powers of two down
// to a sector are accepted too (only the map grows). Larger blocks would
// make one unit of the map absurdly coarse.
inline constexpr uint32_t kMinBlockBytes = 512;
inline constexpr uint32_t kMaxBlockBytes = uint32_t{128} << 20;
// The per-block extra area VirtualBox reserves (always 0 in practice).
inline constexpr uint32_t kMaxBlockExtraBytes = kMaxBlockBytes;

enum class ImageType : uint32_t {
  kDynamic = 1,  // "normal": blocks allocated as written
  kStatic = 2,   // "fixed": every block preallocated
  kUndo = 3,     // old VirtualBox undo images
  kDiff = 4,     // differencing: unallocated blocks come from the parent
};

// A 16-byte RTUUID as stored: the first three fields little-endian.
using Uuid = std::array<std::byte, 16>;

struct Header {
  uint32_t version = kVersion1_1;
  uint32_t header_bytes = 0;  // v1 only: the header's own size field
  ImageType type = ImageType::kDynamic;
  uint32_t flags = 0;
  std::string comment;
  uint64_t map_offset = 0;         // block map: blocks_in_image u32 entries
  uint64_t data_offset = 0;        // first stored block
  uint32_t sector_bytes = 512;     // legacy geometry's sector size (informational)
  uint64_t disk_bytes = 0;         // rounded up to a sector, as qemu does
  uint64_t disk_bytes_stored = 0;  // as written in the header
  uint32_t block_bytes = 0;        // a power of two
  uint32_t block_extra_bytes = 0;
  uint32_t blocks_in_image = 0;
  uint32_t blocks_allocated = 0;
  Uuid uuid{};
  Uuid modification_uuid{};
  Uuid parent_uuid{};  // "link": the parent's image UUID; null in base images
  Uuid parent_modification_uuid{};

  uint32_t major() const { return version >> 16; }
  uint32_t minor() const { return version & 0xffff; }
  bool has_parent() const;
  // Host bytes one stored block takes (extra area + data).
  uint64_t block_stride() const { return uint64_t{block_extra_bytes} + block_bytes; }
  // File offset of stored block `index` (its data, after the extra area).
  uint64_t BlockHostOffset(uint32_t index) const {
    return data_offset + index * block_stride() + block_extra_bytes;
  }
};

// Decodes and validates the header in `bytes` (the first kHeaderReadBytes
// of the file, or the whole file when shorter) of a file of `file_size`
// bytes. kCorrupt for
// a short file, a bad signature or a field that breaks the layout (block map
// past the end of the file, data before the map, disk larger than its
// blocks); kUnsupported for an unknown version or type, or a block size
// outside kMinBlockBytes..kMaxBlockBytes. Messages name the field's offset.
Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size);

// "6f1a...-..." in RTUuidToStr's spelling (lowercase, no braces).
std::string FormatUuid(const Uuid& uuid);
bool IsNullUuid(const Uuid& uuid);

// "dynamic", "static", "undo" or "diff".
const char* ImageTypeName(ImageType type);

}  // namespace imgfs::vdi
