// SPDX-License-Identifier: MIT
// VDI header decoding and encoding (see header.h for the layout and its source).
#include "formats/vdi/header.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"
#include "core/util/sector.h"
#include "core/util/utf8.h"

namespace imgfs::vdi {
namespace {

// VDIHEADER1 field offsets (VDICore.h), from the start of the file.
constexpr size_t kV1HeaderBytesOffset = 0x48;
constexpr size_t kV1TypeOffset = 0x4c;
constexpr size_t kV1FlagsOffset = 0x50;
constexpr size_t kV1CommentOffset = 0x54;
constexpr size_t kV1MapOffset = 0x154;
constexpr size_t kV1DataOffset = 0x158;
constexpr size_t kV1SectorBytesOffset = 0x168;  // LegacyGeometry.cbSector
constexpr size_t kV1DiskBytesOffset = 0x170;
constexpr size_t kV1BlockBytesOffset = 0x178;
constexpr size_t kV1BlockExtraOffset = 0x17c;
constexpr size_t kV1BlocksOffset = 0x180;
constexpr size_t kV1AllocatedOffset = 0x184;
constexpr size_t kV1UuidOffset = 0x188;
constexpr size_t kV1ModUuidOffset = 0x198;
constexpr size_t kV1ParentUuidOffset = 0x1a8;
constexpr size_t kV1ParentModUuidOffset = 0x1b8;
// sizeof(VDIHEADER1): the smallest v1 header VirtualBox accepts.
constexpr uint32_t kV1MinHeaderBytes = 0x180;
constexpr size_t kPreHeaderBytes = 0x48;
constexpr size_t kV1MinHeaderEnd = kPreHeaderBytes + kV1MinHeaderBytes;
// VDIHEADER0 field offsets: no size, offsets or block extra.
constexpr size_t kV0TypeOffset = 0x48;
constexpr size_t kV0FlagsOffset = 0x4c;
constexpr size_t kV0CommentOffset = 0x50;
constexpr size_t kV0SectorBytesOffset = 0x15c;
constexpr size_t kV0DiskBytesOffset = 0x160;
constexpr size_t kV0BlockBytesOffset = 0x168;
constexpr size_t kV0BlocksOffset = 0x16c;
constexpr size_t kV0AllocatedOffset = 0x170;
constexpr size_t kV0UuidOffset = 0x174;
constexpr size_t kV0ModUuidOffset = 0x184;
constexpr size_t kV0ParentUuidOffset = 0x194;
constexpr size_t kV0MapOffset = 0x1a4;  // the end of VDIPREHEADER + VDIHEADER0
constexpr size_t kCommentBytes = 256;

Uuid LoadUuid(const std::byte* p) {
  Uuid u;
  std::memcpy(u.data(), p, u.size());
  return u;
}

// The comment is UTF-8 by VirtualBox's word, but only by its word.
std::string LoadComment(const std::byte* p) {
  const char* s = reinterpret_cast<const char*>(p);
  return Utf8Safe(std::string_view(s, strnlen(s, kCommentBytes)));
}

Status CheckBlockSizes(const Header& h) {
  if (!std::has_single_bit(h.block_bytes) || h.block_bytes < kMinBlockBytes ||
      h.block_bytes > kMaxBlockBytes) {
    return UnsupportedError("vdi: block size " + std::to_string(h.block_bytes) +
                            " is not a power of two from 512 bytes to 128 MiB");
  }
  if (h.block_extra_bytes > kMaxBlockExtraBytes) {
    return UnsupportedError("vdi: block extra size " + std::to_string(h.block_extra_bytes) +
                            " is larger than 128 MiB");
  }
  return Status::Ok();
}

// The layout rules every version shares, checked against the file size.
Status CheckLayout(const Header& h, uint64_t file_size) {
  if (h.type < ImageType::kDynamic || h.type > ImageType::kDiff) {
    return UnsupportedError("vdi: unknown image type " +
                            std::to_string(static_cast<uint32_t>(h.type)));
  }
  IMGFS_RETURN_IF_ERROR(CheckBlockSizes(h));
  if (uint64_t{h.blocks_in_image} * h.block_bytes < h.disk_bytes_stored) {
    return CorruptError("vdi: disk size " + std::to_string(h.disk_bytes_stored) +
                        " needs more than " + std::to_string(h.blocks_in_image) + " blocks of " +
                        std::to_string(h.block_bytes) + " bytes");
  }
  if (h.blocks_allocated > h.blocks_in_image) {
    return CorruptError("vdi: header says " + std::to_string(h.blocks_allocated) +
                        " blocks are allocated of " + std::to_string(h.blocks_in_image));
  }
  const uint64_t map_bytes = uint64_t{h.blocks_in_image} * 4;
  if (!RangeWithin(h.map_offset, map_bytes, file_size)) {
    return CorruptError("vdi: block map at " + Hex(h.map_offset) + " (" +
                        std::to_string(h.blocks_in_image) +
                        " entries) extends past end of file (size " + Hex(file_size) + ")");
  }
  if (h.data_offset < h.map_offset + map_bytes) {
    return CorruptError("vdi: data at " + Hex(h.data_offset) + " starts inside the block map at " +
                        Hex(h.map_offset));
  }
  if (h.type == ImageType::kDiff && IsNullUuid(h.parent_uuid)) {
    return CorruptError("vdi: differencing image names no parent (null UUID at 0x1a8)");
  }
  return Status::Ok();
}

Result<Header> DecodeV1(const std::byte* p, uint32_t version) {
  Header h;
  h.version = version;
  h.header_bytes = LoadLE32(p + kV1HeaderBytesOffset);
  if (h.header_bytes < kV1MinHeaderBytes) {
    return CorruptError("vdi: header size " + std::to_string(h.header_bytes) +
                        " at 0x48 is smaller than 384");
  }
  h.type = static_cast<ImageType>(LoadLE32(p + kV1TypeOffset));
  h.flags = LoadLE32(p + kV1FlagsOffset);
  h.comment = LoadComment(p + kV1CommentOffset);
  h.map_offset = LoadLE32(p + kV1MapOffset);
  h.data_offset = LoadLE32(p + kV1DataOffset);
  if (h.map_offset < kV1MinHeaderEnd) {
    return CorruptError("vdi: block map at " + Hex(h.map_offset) + " overlaps the header");
  }
  h.sector_bytes = LoadLE32(p + kV1SectorBytesOffset);
  h.disk_bytes_stored = LoadLE64(p + kV1DiskBytesOffset);
  h.block_bytes = LoadLE32(p + kV1BlockBytesOffset);
  h.block_extra_bytes = LoadLE32(p + kV1BlockExtraOffset);
  h.blocks_in_image = LoadLE32(p + kV1BlocksOffset);
  h.blocks_allocated = LoadLE32(p + kV1AllocatedOffset);
  h.uuid = LoadUuid(p + kV1UuidOffset);
  h.modification_uuid = LoadUuid(p + kV1ModUuidOffset);
  h.parent_uuid = LoadUuid(p + kV1ParentUuidOffset);
  h.parent_modification_uuid = LoadUuid(p + kV1ParentModUuidOffset);
  return h;
}

Header DecodeV0(const std::byte* p) {
  Header h;
  h.version = kVersion0;
  h.type = static_cast<ImageType>(LoadLE32(p + kV0TypeOffset));
  h.flags = LoadLE32(p + kV0FlagsOffset);
  h.comment = LoadComment(p + kV0CommentOffset);
  h.sector_bytes = LoadLE32(p + kV0SectorBytesOffset);
  h.disk_bytes_stored = LoadLE64(p + kV0DiskBytesOffset);
  h.block_bytes = LoadLE32(p + kV0BlockBytesOffset);
  h.blocks_in_image = LoadLE32(p + kV0BlocksOffset);
  h.blocks_allocated = LoadLE32(p + kV0AllocatedOffset);
  h.uuid = LoadUuid(p + kV0UuidOffset);
  h.modification_uuid = LoadUuid(p + kV0ModUuidOffset);
  h.parent_uuid = LoadUuid(p + kV0ParentUuidOffset);
  h.map_offset = kV0MapOffset;
  h.data_offset = kV0MapOffset + uint64_t{h.blocks_in_image} * 4;
  return h;
}

}  // namespace

bool Header::has_parent() const { return !IsNullUuid(parent_uuid); }

Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size) {
  auto truncated = [&](size_t need) {
    return CorruptError("vdi: header is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need " + std::to_string(need) + ")");
  };
  if (bytes.size() < kPreHeaderBytes) {
    return truncated(kPreHeaderBytes);
  }
  const std::byte* p = bytes.data();
  if (LoadLE32(p + kSignatureOffset) != kSignature) {
    return CorruptError("vdi: no signature 0xbeda107f at 0x40");
  }
  const uint32_t version = LoadLE32(p + kVersionOffset);
  const size_t need = version == kVersion0 ? kV0MapOffset : kV1MinHeaderEnd;
  if ((version >> 16 == 1 || version == kVersion0) && bytes.size() < need) {
    return truncated(need);
  }
  Header h;
  if (version >> 16 == 1) {
    IMGFS_ASSIGN_OR_RETURN(h, DecodeV1(p, version));
  } else if (version == kVersion0) {
    h = DecodeV0(p);
  } else {
    return UnsupportedError("vdi: header version " + std::to_string(version >> 16) + "." +
                            std::to_string(version & 0xffff) + " at 0x44 is not supported");
  }
  IMGFS_RETURN_IF_ERROR(CheckLayout(h, file_size));
  // 'VBoxManage convertfromraw' can leave a size that is not a multiple of
  // a sector; qemu rounds it up (VirtualBox down). The blocks cover it.
  h.disk_bytes = DivRoundUp(h.disk_bytes_stored, kSectorBytes) * kSectorBytes;
  return h;
}

std::string FormatUuid(const Uuid& u) {
  const std::byte* p = u.data();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", LoadLE32(p),
                LoadLE16(p + 4), LoadLE16(p + 6), std::to_integer<unsigned>(p[8]),
                std::to_integer<unsigned>(p[9]), std::to_integer<unsigned>(p[10]),
                std::to_integer<unsigned>(p[11]), std::to_integer<unsigned>(p[12]),
                std::to_integer<unsigned>(p[13]), std::to_integer<unsigned>(p[14]),
                std::to_integer<unsigned>(p[15]));
  return buf;
}

bool IsNullUuid(const Uuid& u) {
  return std::all_of(u.begin(), u.end(), [](std::byte b) { return b == std::byte{0}; });
}

const char* ImageTypeName(ImageType type) {
  switch (type) {
    case ImageType::kDynamic:
      return "dynamic";
    case ImageType::kStatic:
      return "static";
    case ImageType::kUndo:
      return "undo";
    case ImageType::kDiff:
      return "diff";
  }
  return "unknown";
}

}  // namespace imgfs::vdi
