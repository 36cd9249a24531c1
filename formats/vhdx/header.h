// SPDX-License-Identifier: MIT
// VHDX on-disk structures outside the log ([MS-VHDX] v20210625, sections
// 2.1-2.6): the file type identifier, the two headers, the region table,
// the metadata table with its known items (file parameters, virtual disk
// size, page 83 data, sector sizes, parent locator), and the geometry the
// BAT follows from them. Each Decode* checks one structure from bytes and
// returns kCorrupt (or kUnsupported past a named cap) naming it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"
#include "core/util/guid.h"

namespace imgfs::vhdx {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * 1024;

// 2.1 file layout: fixed offsets of the header section.
inline constexpr uint64_t kHeaderOffsets[2] = {64 * kKiB, 128 * kKiB};
inline constexpr uint64_t kRegionTableOffsets[2] = {192 * kKiB, 256 * kKiB};
inline constexpr uint64_t kHeaderSectionBytes = 1 * kMiB;
inline constexpr size_t kHeaderBytes = 4096;                     // 2.2.2: checksummed size
inline constexpr size_t kRegionTableBytes = size_t{64} << 10;    // 2.2.3
inline constexpr size_t kMetadataTableBytes = size_t{64} << 10;  // 2.6.1

// 2.2.1 file type identifier.
inline constexpr std::string_view kFileSignature = "vhdxfile";
inline constexpr size_t kCreatorOffset = 8;
inline constexpr size_t kCreatorBytes = 512;

// 2.6.2 known metadata items and 2.2.3.1 known regions.
inline constexpr std::string_view kBatRegionGuid = "2DC27766-F623-4200-9D64-115E9BFD4A08";
inline constexpr std::string_view kMetadataRegionGuid = "8B7CA206-4790-4B9A-B8FE-575F050F886E";
inline constexpr std::string_view kFileParametersGuid = "CAA16737-FA36-4D43-B3B6-33F0AA44E76B";
inline constexpr std::string_view kVirtualDiskSizeGuid = "2FA54224-CD1B-4876-B211-5DBED83BF4B8";
inline constexpr std::string_view kPage83Guid = "BECA12AB-B2E6-4523-93EF-C309E000C746";
inline constexpr std::string_view kLogicalSectorGuid = "8141BF1D-A96F-4709-BA47-F233A8FAAB5F";
inline constexpr std::string_view kPhysicalSectorGuid = "CDA348C7-445D-4471-9CC9-E9885251C556";
inline constexpr std::string_view kParentLocatorGuid = "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C";
inline constexpr std::string_view kVhdxLocatorTypeGuid = "B04AEFB7-D19E-4A81-B789-25B8E9445913";

// Limits the spec sets (2.6.2.1, 2.6.2.2, 2.2.3, 2.6.1.1).
inline constexpr uint32_t kMinBlockBytes = 1 << 20;
inline constexpr uint32_t kMaxBlockBytes = 256 << 20;
inline constexpr uint64_t kMaxVirtualBytes = uint64_t{64} << 40;  // 64 TiB
inline constexpr uint32_t kMaxTableEntries = 2047;
inline constexpr uint32_t kMaxMetadataItemBytes = 1 << 20;
// Our cap: a parent locator holds five known keys; 256 entries bound the
// decoding of a hostile one.
inline constexpr uint16_t kMaxLocatorEntries = 256;

// 2.2.2 header. Of the two copies, the valid one with the higher sequence
// number is current.
struct Header {
  uint64_t sequence_number = 0;
  Guid file_write_guid{};
  Guid data_write_guid{};
  Guid log_guid{};  // all zeros: nothing to replay
  uint16_t log_version = 0;
  uint16_t version = 0;
  uint32_t log_length_bytes = 0;
  uint64_t log_offset_bytes = 0;
};

// Checks signature "head", the CRC-32C over kHeaderBytes, version 1, log
// version 0 and the log's 1 MiB alignment and place inside `file_size`.
// REQUIRES: bytes.size() >= kHeaderBytes.
Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size);

// 2.2.3 region table: where the BAT and the metadata region lie.
struct RegionTable {
  uint64_t bat_offset_bytes = 0;
  uint32_t bat_length_bytes = 0;
  uint64_t metadata_offset_bytes = 0;
  uint32_t metadata_length_bytes = 0;
};

// Checks signature "regi", the CRC-32C over kRegionTableBytes, the entry
// count, each region's 1 MiB alignment and place inside `file_size`, and
// that both known regions are present; an unknown region marked required is
// kUnsupported. REQUIRES: bytes.size() >= kRegionTableBytes.
Result<RegionTable> DecodeRegionTable(std::span<const std::byte> bytes, uint64_t file_size);

// 2.6.1.2 one metadata table entry: where an item lies in the region.
struct MetadataEntry {
  Guid item_id{};
  uint32_t offset_bytes = 0;  // from the start of the metadata region
  uint32_t length_bytes = 0;
  bool is_user = false;
  bool is_virtual_disk = false;
  bool is_required = false;
};

// Checks signature "metadata", the entry count and each entry's place
// inside a region of `region_bytes`. REQUIRES: bytes.size() >= kMetadataTableBytes.
Result<std::vector<MetadataEntry>> DecodeMetadataTable(std::span<const std::byte> bytes,
                                                       uint64_t region_bytes);

// 2.6.2.6 parent locator: a type GUID and UTF-16 key/value pairs.
struct ParentLocator {
  Guid type{};
  std::vector<std::pair<std::string, std::string>> entries;  // UTF-8 key, value
  // The value of `key`, or nullopt.
  std::optional<std::string> Find(std::string_view key) const;
};

// Decodes a locator item of item.size() bytes: the entry count (capped),
// each key and value inside the item. kCorrupt naming the entry otherwise.
Result<ParentLocator> DecodeParentLocator(std::span<const std::byte> item);

// The known metadata items, decoded and checked against the spec's limits.
struct Metadata {
  uint32_t block_bytes = 0;
  bool leave_blocks_allocated = false;
  bool has_parent = false;
  uint64_t virtual_bytes = 0;
  Guid page83{};  // the virtual disk id
  uint32_t logical_sector_bytes = 0;
  uint32_t physical_sector_bytes = 0;
  std::optional<ParentLocator> parent;  // present iff has_parent
};

// The BAT layout that follows from the metadata (2.5).
struct Geometry {
  uint64_t block_bytes = 0;
  uint64_t chunk_ratio = 0;  // payload blocks per sector bitmap block
  uint64_t data_blocks = 0;
  uint64_t bat_entries = 0;  // including the interleaved sector bitmap entries
  // BAT index of payload block `block` and of the bitmap of chunk `chunk`.
  uint64_t PayloadIndex(uint64_t block) const { return block + block / chunk_ratio; }
  uint64_t BitmapIndex(uint64_t chunk) const { return chunk * (chunk_ratio + 1) + chunk_ratio; }
};

// Reads the metadata table at regions.metadata_offset_bytes and its known
// items: block size 1..256 MiB (a power of two), sector sizes 512 or 4096,
// a virtual size that is a whole number of logical sectors up to 64 TiB,
// and a parent locator when has_parent is set. An unknown item marked
// required is kUnsupported.
Result<Metadata> ReadMetadata(const File& file, const RegionTable& regions);

// REQUIRES: `m` came from ReadMetadata.
Geometry GeometryOf(const Metadata& m);

// The creator string of the file type identifier (2.2.1), UTF-8.
std::string DecodeCreator(std::span<const std::byte> identifier);

// "{xxxxxxxx-...}" (as parent_linkage stores it) to upper case without
// braces, or nullopt when it is not a GUID's text.
std::optional<std::string> NormalizeGuidText(std::string_view text);

}  // namespace imgfs::vhdx
