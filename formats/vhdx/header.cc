// SPDX-License-Identifier: MIT
// Decoders of the VHDX header section and metadata region (see header.h).
#include "formats/vhdx/header.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "core/util/checked.h"
#include "core/util/crc32c.h"
#include "core/util/endian.h"
#include "core/util/hex.h"
#include "core/util/utf16.h"

namespace imgfs::vhdx {
namespace {

// 2.2.2 header fields.
constexpr size_t kHeadChecksum = 4;
constexpr size_t kHeadSequence = 8;
constexpr size_t kHeadFileWriteGuid = 16;
constexpr size_t kHeadDataWriteGuid = 32;
constexpr size_t kHeadLogGuid = 48;
constexpr size_t kHeadLogVersion = 64;
constexpr size_t kHeadVersion = 66;
constexpr size_t kHeadLogLength = 68;
constexpr size_t kHeadLogOffset = 72;
constexpr uint32_t kHeadSignature = 0x64616568;  // "head"

// 2.2.3 region table.
constexpr size_t kRegiChecksum = 4;
constexpr size_t kRegiEntryCount = 8;
constexpr size_t kRegiEntries = 16;
constexpr size_t kRegiEntryBytes = 32;
constexpr size_t kRegiEntryOffset = 16;
constexpr size_t kRegiEntryLength = 24;
constexpr size_t kRegiEntryRequired = 28;
constexpr uint32_t kRegiSignature = 0x69676572;  // "regi"

// 2.6.1 metadata table.
constexpr std::string_view kMetadataSignature = "metadata";
constexpr size_t kMetaEntryCount = 10;
constexpr size_t kMetaEntries = 32;
constexpr size_t kMetaEntryBytes = 32;
constexpr size_t kMetaEntryOffset = 16;
constexpr size_t kMetaEntryLength = 20;
constexpr size_t kMetaEntryFlags = 24;
constexpr uint32_t kMetaIsUser = 1;
constexpr uint32_t kMetaIsVirtualDisk = 2;
constexpr uint32_t kMetaIsRequired = 4;

// 2.6.2.1 file parameters.
constexpr uint32_t kLeaveBlocksAllocated = 1;
constexpr uint32_t kHasParent = 2;

// 2.6.2.6 parent locator.
constexpr size_t kLocatorHeaderBytes = 20;
constexpr size_t kLocatorCount = 18;
constexpr size_t kLocatorEntryBytes = 12;

// The CRC-32C of `bytes` with its 4-byte checksum field at `at` as zeros.
uint32_t ChecksumWithHole(std::span<const std::byte> bytes, size_t at) {
  static constexpr std::byte kZeros[4] = {};
  uint32_t crc = Crc32c(bytes.first(at));
  crc = Crc32c(kZeros, crc);
  return Crc32c(bytes.subspan(at + 4), crc);
}

bool IsSectorSize(uint32_t v) { return v == 512 || v == 4096; }

}  // namespace

Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size) {
  const std::byte* p = bytes.data();
  if (LoadLE32(p) != kHeadSignature) {
    return CorruptError("vhdx: header has no 'head' signature");
  }
  const uint32_t stored = LoadLE32(p + kHeadChecksum);
  const uint32_t computed = ChecksumWithHole(bytes.first(kHeaderBytes), kHeadChecksum);
  if (stored != computed) {
    return CorruptError("vhdx: header checksum " + Hex(stored) + " does not match its bytes (" +
                        Hex(computed) + ")");
  }
  Header h;
  h.sequence_number = LoadLE64(p + kHeadSequence);
  h.file_write_guid = LoadGuid(p + kHeadFileWriteGuid);
  h.data_write_guid = LoadGuid(p + kHeadDataWriteGuid);
  h.log_guid = LoadGuid(p + kHeadLogGuid);
  h.log_version = LoadLE16(p + kHeadLogVersion);
  h.version = LoadLE16(p + kHeadVersion);
  h.log_length_bytes = LoadLE32(p + kHeadLogLength);
  h.log_offset_bytes = LoadLE64(p + kHeadLogOffset);
  if (h.version != 1) {
    return UnsupportedError("vhdx: header version " + std::to_string(h.version) +
                            " (only 1 is defined)");
  }
  if (h.log_version != 0) {
    return UnsupportedError("vhdx: log version " + std::to_string(h.log_version) +
                            " (only 0 is defined)");
  }
  if (h.log_length_bytes % kMiB != 0 || h.log_offset_bytes % kMiB != 0 ||
      h.log_offset_bytes < kHeaderSectionBytes) {
    return CorruptError("vhdx: log at " + Hex(h.log_offset_bytes) + " of " +
                        Hex(h.log_length_bytes) +
                        " bytes is not 1 MiB aligned or overlaps the header section");
  }
  if (!RangeWithin(h.log_offset_bytes, h.log_length_bytes, file_size)) {
    return CorruptError("vhdx: log at " + Hex(h.log_offset_bytes) + " of " +
                        Hex(h.log_length_bytes) + " bytes extends past end of file (size " +
                        Hex(file_size) + ")");
  }
  return h;
}

Result<RegionTable> DecodeRegionTable(std::span<const std::byte> bytes, uint64_t file_size) {
  const std::byte* p = bytes.data();
  if (LoadLE32(p) != kRegiSignature) {
    return CorruptError("vhdx: region table has no 'regi' signature");
  }
  const uint32_t stored = LoadLE32(p + kRegiChecksum);
  const uint32_t computed = ChecksumWithHole(bytes.first(kRegionTableBytes), kRegiChecksum);
  if (stored != computed) {
    return CorruptError("vhdx: region table checksum " + Hex(stored) +
                        " does not match its bytes (" + Hex(computed) + ")");
  }
  const uint32_t count = LoadLE32(p + kRegiEntryCount);
  if (count > kMaxTableEntries) {
    return CorruptError("vhdx: region table has " + std::to_string(count) +
                        " entries (at most 2047)");
  }
  RegionTable rt;
  bool have_bat = false;
  bool have_metadata = false;
  for (uint32_t i = 0; i < count; ++i) {
    const std::byte* e = p + kRegiEntries + size_t{i} * kRegiEntryBytes;
    const std::string guid = GuidToString(LoadGuid(e));
    const uint64_t offset = LoadLE64(e + kRegiEntryOffset);
    const uint32_t length = LoadLE32(e + kRegiEntryLength);
    const bool required = (LoadLE32(e + kRegiEntryRequired) & 1) != 0;
    const std::string what = "vhdx: region " + guid + " at " + Hex(offset);
    if (offset % kMiB != 0 || length % kMiB != 0 || offset < kHeaderSectionBytes) {
      return CorruptError(what + " of " + Hex(length) +
                          " bytes is not 1 MiB aligned or overlaps the header section");
    }
    if (!RangeWithin(offset, length, file_size)) {
      return CorruptError(what + " of " + Hex(length) + " bytes extends past end of file (size " +
                          Hex(file_size) + ")");
    }
    if (guid == kBatRegionGuid && !have_bat) {
      rt.bat_offset_bytes = offset;
      rt.bat_length_bytes = length;
      have_bat = true;
    } else if (guid == kMetadataRegionGuid && !have_metadata) {
      rt.metadata_offset_bytes = offset;
      rt.metadata_length_bytes = length;
      have_metadata = true;
    } else if (guid == kBatRegionGuid || guid == kMetadataRegionGuid) {
      return CorruptError(what + " is listed twice");
    } else if (required) {
      return UnsupportedError(what + " is unknown and marked required");
    }
  }
  if (!have_bat || !have_metadata) {
    return CorruptError(std::string("vhdx: region table has no ") +
                        (have_bat ? "metadata" : "BAT") + " region");
  }
  return rt;
}

Result<std::vector<MetadataEntry>> DecodeMetadataTable(std::span<const std::byte> bytes,
                                                       uint64_t region_bytes) {
  const std::byte* p = bytes.data();
  if (std::memcmp(p, kMetadataSignature.data(), kMetadataSignature.size()) != 0) {
    return CorruptError("vhdx: metadata table has no 'metadata' signature");
  }
  const uint16_t count = LoadLE16(p + kMetaEntryCount);
  if (count > kMaxTableEntries) {
    return CorruptError("vhdx: metadata table has " + std::to_string(count) +
                        " entries (at most 2047)");
  }
  std::vector<MetadataEntry> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::byte* e = p + kMetaEntries + i * kMetaEntryBytes;
    MetadataEntry m;
    m.item_id = LoadGuid(e);
    m.offset_bytes = LoadLE32(e + kMetaEntryOffset);
    m.length_bytes = LoadLE32(e + kMetaEntryLength);
    const uint32_t flags = LoadLE32(e + kMetaEntryFlags);
    m.is_user = (flags & kMetaIsUser) != 0;
    m.is_virtual_disk = (flags & kMetaIsVirtualDisk) != 0;
    m.is_required = (flags & kMetaIsRequired) != 0;
    if (m.length_bytes > kMaxMetadataItemBytes ||
        (m.length_bytes != 0 && (m.offset_bytes < kMetadataTableBytes ||
                                 !RangeWithin(m.offset_bytes, m.length_bytes, region_bytes)))) {
      return CorruptError("vhdx: metadata item " + GuidToString(m.item_id) + " at " +
                          Hex(m.offset_bytes) + " of " + Hex(m.length_bytes) +
                          " bytes lies outside its region (" + Hex(region_bytes) + " bytes)");
    }
    out.push_back(m);
  }
  return out;
}

std::optional<std::string> ParentLocator::Find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) {
      return v;
    }
  }
  return std::nullopt;
}

Result<ParentLocator> DecodeParentLocator(std::span<const std::byte> item) {
  if (item.size() < kLocatorHeaderBytes) {
    return CorruptError("vhdx: parent locator of " + std::to_string(item.size()) +
                        " bytes is shorter than its header");
  }
  ParentLocator loc;
  loc.type = LoadGuid(item.data());
  const uint16_t count = LoadLE16(item.data() + kLocatorCount);
  if (count > kMaxLocatorEntries) {
    return UnsupportedError("vhdx: parent locator has " + std::to_string(count) +
                            " entries (at most " + std::to_string(kMaxLocatorEntries) + ")");
  }
  if (!RangeWithin(kLocatorHeaderBytes, size_t{count} * kLocatorEntryBytes, item.size())) {
    return CorruptError("vhdx: parent locator's " + std::to_string(count) +
                        " entries do not fit in its " + std::to_string(item.size()) + " bytes");
  }
  for (size_t i = 0; i < count; ++i) {
    const std::byte* e = item.data() + kLocatorHeaderBytes + i * kLocatorEntryBytes;
    const uint32_t key_at = LoadLE32(e);
    const uint32_t value_at = LoadLE32(e + 4);
    const uint16_t key_len = LoadLE16(e + 8);
    const uint16_t value_len = LoadLE16(e + 10);
    if (!RangeWithin(key_at, key_len, item.size()) ||
        !RangeWithin(value_at, value_len, item.size()) || key_len == 0) {
      return CorruptError("vhdx: parent locator entry " + std::to_string(i) +
                          " lies outside the locator");
    }
    loc.entries.emplace_back(Utf16LeToUtf8(item.subspan(key_at, key_len)),
                             Utf16LeToUtf8(item.subspan(value_at, value_len)));
  }
  return loc;
}

namespace {

// The metadata items ReadMetadata understands, by id.
struct KnownItems {
  std::vector<std::byte> file_parameters, virtual_size, page83, logical, physical, locator;
};

Status ReadItem(const File& file, uint64_t region, const MetadataEntry& e, size_t want,
                std::vector<std::byte>* out) {
  if (e.length_bytes < want) {
    return CorruptError("vhdx: metadata item " + GuidToString(e.item_id) + " has " +
                        std::to_string(e.length_bytes) + " bytes (needs " + std::to_string(want) +
                        ")");
  }
  out->resize(e.length_bytes);
  return file.ReadExactAt(region + e.offset_bytes, *out, "vhdx: metadata item");
}

Status CheckMetadata(const Metadata& m) {
  if (m.block_bytes < kMinBlockBytes || m.block_bytes > kMaxBlockBytes ||
      (m.block_bytes & (m.block_bytes - 1)) != 0) {
    return CorruptError("vhdx: block size " + std::to_string(m.block_bytes) +
                        " is not a power of two from 1 MiB to 256 MiB");
  }
  if (!IsSectorSize(m.logical_sector_bytes) || !IsSectorSize(m.physical_sector_bytes)) {
    return CorruptError("vhdx: sector sizes " + std::to_string(m.logical_sector_bytes) + "/" +
                        std::to_string(m.physical_sector_bytes) + " (each must be 512 or 4096)");
  }
  if (m.virtual_bytes > kMaxVirtualBytes || m.virtual_bytes % m.logical_sector_bytes != 0) {
    return CorruptError("vhdx: virtual size " + std::to_string(m.virtual_bytes) +
                        " is not a whole number of logical sectors up to 64 TiB");
  }
  return Status::Ok();
}

}  // namespace

Result<Metadata> ReadMetadata(const File& file, const RegionTable& regions) {
  if (regions.metadata_length_bytes < kMetadataTableBytes) {
    return CorruptError("vhdx: metadata region of " + Hex(regions.metadata_length_bytes) +
                        " bytes cannot hold its table");
  }
  std::vector<std::byte> table(kMetadataTableBytes);
  IMGFS_RETURN_IF_ERROR(
      file.ReadExactAt(regions.metadata_offset_bytes, table, "vhdx: metadata table"));
  IMGFS_ASSIGN_OR_RETURN(std::vector<MetadataEntry> entries,
                         DecodeMetadataTable(table, regions.metadata_length_bytes));
  KnownItems items;
  const uint64_t base = regions.metadata_offset_bytes;
  for (const MetadataEntry& e : entries) {
    const std::string id = GuidToString(e.item_id);
    std::vector<std::byte>* slot = nullptr;
    size_t want = 4;
    if (e.is_user) {
      continue;  // user items carry no meaning for reading
    } else if (id == kFileParametersGuid) {
      slot = &items.file_parameters;
      want = 8;
    } else if (id == kVirtualDiskSizeGuid) {
      slot = &items.virtual_size;
      want = 8;
    } else if (id == kPage83Guid) {
      slot = &items.page83;
      want = 16;
    } else if (id == kLogicalSectorGuid) {
      slot = &items.logical;
    } else if (id == kPhysicalSectorGuid) {
      slot = &items.physical;
    } else if (id == kParentLocatorGuid) {
      slot = &items.locator;
      want = kLocatorHeaderBytes;
    } else if (e.is_required) {
      return UnsupportedError("vhdx: metadata item " + id + " is unknown and marked required");
    } else {
      continue;
    }
    if (!slot->empty()) {
      return CorruptError("vhdx: metadata item " + id + " is listed twice");
    }
    IMGFS_RETURN_IF_ERROR(ReadItem(file, base, e, want, slot));
  }
  const char* missing = items.file_parameters.empty() ? "file parameters"
                        : items.virtual_size.empty()  ? "virtual disk size"
                        : items.logical.empty()       ? "logical sector size"
                        : items.physical.empty()      ? "physical sector size"
                                                      : nullptr;
  if (missing != nullptr) {
    return CorruptError(std::string("vhdx: metadata has no ") + missing + " item");
  }
  Metadata m;
  m.block_bytes = LoadLE32(items.file_parameters.data());
  const uint32_t flags = LoadLE32(items.file_parameters.data() + 4);
  m.leave_blocks_allocated = (flags & kLeaveBlocksAllocated) != 0;
  m.has_parent = (flags & kHasParent) != 0;
  m.virtual_bytes = LoadLE64(items.virtual_size.data());
  if (!items.page83.empty()) {
    m.page83 = LoadGuid(items.page83.data());
  }
  m.logical_sector_bytes = LoadLE32(items.logical.data());
  m.physical_sector_bytes = LoadLE32(items.physical.data());
  IMGFS_RETURN_IF_ERROR(CheckMetadata(m));
  if (m.has_parent) {
    if (items.locator.empty()) {
      return CorruptError("vhdx: differencing image has no parent locator");
    }
    IMGFS_ASSIGN_OR_RETURN(m.parent, DecodeParentLocator(items.locator));
  }
  return m;
}

Geometry GeometryOf(const Metadata& m) {
  Geometry g;
  g.block_bytes = m.block_bytes;
  // 2.5: one sector bitmap block (2^23 bits) covers 2^23 logical sectors.
  g.chunk_ratio = (uint64_t{1} << 23) * m.logical_sector_bytes / m.block_bytes;
  g.data_blocks = DivRoundUp(m.virtual_bytes, m.block_bytes);
  const uint64_t bitmap_blocks = DivRoundUp(g.data_blocks, g.chunk_ratio);
  g.bat_entries = m.has_parent         ? bitmap_blocks * (g.chunk_ratio + 1)
                  : g.data_blocks == 0 ? 0
                                       : g.data_blocks + (g.data_blocks - 1) / g.chunk_ratio;
  return g;
}

std::string DecodeCreator(std::span<const std::byte> identifier) {
  if (identifier.size() < kCreatorOffset + kCreatorBytes) {
    return {};
  }
  return Utf16LeToUtf8(identifier.subspan(kCreatorOffset, kCreatorBytes));
}

std::optional<std::string> NormalizeGuidText(std::string_view text) {
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, 36);
  }
  if (text.size() != 36) {
    return std::nullopt;
  }
  std::string out(text);
  for (size_t i = 0; i < out.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const auto c = static_cast<unsigned char>(out[i]);
    if (dash ? c != '-' : std::isxdigit(c) == 0) {
      return std::nullopt;
    }
    out[i] = static_cast<char>(std::toupper(c));
  }
  return out;
}

}  // namespace imgfs::vhdx
