// SPDX-License-Identifier: MIT
// Decoding of the Bochs redolog header (formats/bochs/header.h).
#include "formats/bochs/header.h"

#include <bit>
#include <cstring>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::bochs {
namespace {

// The NUL-terminated text of a fixed-size field.
std::string FieldText(std::span<const std::byte> bytes, size_t offset, size_t width) {
  const char* p = reinterpret_cast<const char*>(bytes.data() + offset);
  return std::string(p, strnlen(p, width));
}

std::string Field(size_t offset) { return "bochs: header field at " + Hex(offset); }

}  // namespace

bool HasMagic(std::span<const std::byte> head) {
  return head.size() >= kSubtypeOffset && FieldText(head, kMagicOffset, kMagicField) == kMagic &&
         FieldText(head, kTypeOffset, kTypeField) == kRedologType;
}

Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size) {
  if (bytes.size() < kHeaderBytes || file_size < kHeaderBytes) {
    return CorruptError("bochs: file of " + std::to_string(file_size) +
                        " bytes is shorter than the 512-byte header");
  }
  if (!HasMagic(bytes)) {
    return CorruptError("bochs: no \"Bochs Virtual HD Image\" redolog magic at 0x0");
  }
  Header h;
  const std::string subtype = FieldText(bytes, kSubtypeOffset, kTypeField);
  if (subtype != kGrowingSubtype) {
    return UnsupportedError("bochs: redolog subtype '" + subtype +
                            "' is not supported (only 'Growing' images are)");
  }
  h.version = LoadLE32(bytes.data() + kVersionOffset);
  if (h.version != kVersion1 && h.version != kVersion2) {
    return UnsupportedError("bochs: header version " + Hex(h.version) +
                            " is not supported (only 0x10000 and 0x20000 are)");
  }
  h.header_bytes = LoadLE32(bytes.data() + kHeaderSizeOffset);
  h.catalog_entries = LoadLE32(bytes.data() + kCatalogOffset);
  h.bitmap_bytes = LoadLE32(bytes.data() + kBitmapOffset);
  h.extent_bytes = LoadLE32(bytes.data() + kExtentOffset);
  if (h.version == kVersion1) {
    h.disk_bytes_stored = LoadLE64(bytes.data() + kDiskOffsetV1);
  } else {
    h.timestamp = LoadLE32(bytes.data() + kTimestampOffsetV2);
    h.disk_bytes_stored = LoadLE64(bytes.data() + kDiskOffsetV2);
  }
  h.disk_bytes = h.disk_bytes_stored / 512 * 512;
  if (h.header_bytes < kHeaderBytes || h.header_bytes > kMaxHeaderSize) {
    return CorruptError(Field(kHeaderSizeOffset) + ": header size " +
                        std::to_string(h.header_bytes) + " is outside 512.." +
                        std::to_string(kMaxHeaderSize));
  }
  if (h.extent_bytes < 512 || !std::has_single_bit(h.extent_bytes)) {
    return CorruptError(Field(kExtentOffset) + ": extent size " + std::to_string(h.extent_bytes) +
                        " is not a power of two of at least 512");
  }
  if (h.extent_bytes > kMaxExtentBytes) {
    return UnsupportedError(Field(kExtentOffset) + ": extent size " +
                            std::to_string(h.extent_bytes) + " is over the 8 MiB cap");
  }
  if (uint64_t{h.bitmap_bytes} * 8 < h.extent_sectors()) {
    return CorruptError(Field(kBitmapOffset) + ": bitmap of " + std::to_string(h.bitmap_bytes) +
                        " bytes cannot hold the " + std::to_string(h.extent_sectors()) +
                        " sectors of an extent");
  }
  if (h.bitmap_bytes > kMaxBitmapBytes) {
    return UnsupportedError(Field(kBitmapOffset) + ": bitmap of " + std::to_string(h.bitmap_bytes) +
                            " bytes is over the 1 MiB cap");
  }
  if (h.catalog_entries > kMaxCatalogEntries) {
    return UnsupportedError(Field(kCatalogOffset) + ": catalog of " +
                            std::to_string(h.catalog_entries) + " entries is over the cap of " +
                            std::to_string(kMaxCatalogEntries));
  }
  if (!RangeWithin(h.header_bytes, uint64_t{h.catalog_entries} * 4, file_size)) {
    return CorruptError("bochs: catalog of " + std::to_string(h.catalog_entries) + " entries at " +
                        Hex(h.header_bytes) + " extends past end of file (size " + Hex(file_size) +
                        ")");
  }
  if (h.disk_bytes > uint64_t{h.catalog_entries} * h.extent_bytes) {
    return CorruptError(Field(h.version == kVersion1 ? kDiskOffsetV1 : kDiskOffsetV2) +
                        ": disk of " + std::to_string(h.disk_bytes_stored) +
                        " bytes is larger than its " + std::to_string(h.catalog_entries) +
                        " extents of " + std::to_string(h.extent_bytes) + " bytes");
  }
  return h;
}

}  // namespace imgfs::bochs
