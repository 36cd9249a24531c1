// SPDX-License-Identifier: MIT
// VHD on-disk structures (Microsoft "Virtual Hard Disk Image Format
// Specification", version 1.0): the 512-byte footer (at the end of every
// VHD, with a copy at offset 0 of dynamic and differencing disks), the
// 1024-byte dynamic disk header ("cxsparse") and its parent locators, and
// the rule that decides the virtual size. Every field is big-endian; a
// checksum is the one's complement of the byte sum with the checksum field
// taken as zero.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace imgfs::vpc {

inline constexpr size_t kFooterBytes = 512;
inline constexpr size_t kDynamicHeaderBytes = 1024;
inline constexpr size_t kParentLocatorCount = 8;
// The "data offset" of a fixed disk's footer and of the dynamic header: no
// further structure (the spec says 0xFFFFFFFF, Windows writes all 64 bits).
inline constexpr uint64_t kNoOffset = ~uint64_t{0};
// A BAT entry of a block that was never written.
inline constexpr uint32_t kUnallocatedBlock = 0xffffffff;

// Disk types (spec "Hard Disk Footer Format", Disk Type).
enum class DiskType : uint32_t { kFixed = 2, kDynamic = 3, kDifferencing = 4 };

using UniqueId = std::array<std::byte, 16>;

struct Footer {
  uint32_t features = 2;  // bit 1 ("reserved") is always set
  uint32_t format_version = 0x00010000;
  uint64_t data_offset = kNoOffset;  // the dynamic header; kNoOffset for fixed disks
  uint32_t timestamp = 0;            // seconds since 2000-01-01 00:00 UTC
  uint32_t creator_app = 0;          // FourCc: "qemu", "qem2", "win ", "vpc "...
  uint32_t creator_version = 0;
  uint32_t creator_os = 0;  // "Wi2k", "Mac "
  uint64_t original_size = 0;
  uint64_t current_size = 0;
  uint16_t cylinders = 0;
  uint8_t heads = 0;
  uint8_t sectors_per_track = 0;
  uint32_t disk_type = 0;  // a DiskType, or anything when decoded
  uint32_t checksum = 0;
  UniqueId unique_id{};
  uint8_t saved_state = 0;
  bool checksum_ok = true;  // decoded: the stored checksum matches the bytes
};

// One of the dynamic header's eight parent locators.
struct ParentLocator {
  uint32_t platform_code = 0;  // 0: unused; "W2ru", "W2ku", "MacX", "Mac "...
  uint32_t data_space = 0;     // sectors (or bytes, in Windows' images) reserved
  uint32_t data_length = 0;    // bytes of locator data
  uint64_t data_offset = 0;    // file offset of the locator data
};

struct DynamicHeader {
  uint64_t data_offset = kNoOffset;
  uint64_t table_offset = 0;  // the BAT
  uint32_t header_version = 0x00010000;
  uint32_t max_table_entries = 0;
  uint32_t block_bytes = 0;
  uint32_t checksum = 0;
  UniqueId parent_unique_id{};
  uint32_t parent_timestamp = 0;
  std::string parent_name;  // UTF-8 of the UTF-16BE field
  std::array<ParentLocator, kParentLocatorCount> locators{};
  bool checksum_ok = true;
};

// "W2ru" and friends as a 32-bit code.
constexpr uint32_t FourCc(const char (&s)[5]) {
  return uint32_t{static_cast<uint8_t>(s[0])} << 24 | uint32_t{static_cast<uint8_t>(s[1])} << 16 |
         uint32_t{static_cast<uint8_t>(s[2])} << 8 | uint32_t{static_cast<uint8_t>(s[3])};
}
// "W2ru", or the code in hex when it is not printable.
std::string FourCcText(uint32_t code);

// One's complement of the byte sum of `bytes`, skipping the four bytes at
// `checksum_offset`.
uint32_t Checksum(std::span<const std::byte> bytes, size_t checksum_offset);

// kCorrupt when `bytes` (at least kFooterBytes) lacks the "conectix" cookie.
// A wrong checksum is not an error (QEMU only warns): see checksum_ok.
Result<Footer> DecodeFooter(std::span<const std::byte> bytes);
// The footer with its checksum computed (the `checksum` field is ignored).
std::vector<std::byte> EncodeFooter(const Footer& footer);

// kCorrupt without the "cxsparse" cookie; kUnsupported for a block size
// that is not a power of two from 512 bytes. A wrong checksum is not an
// error: see checksum_ok.
Result<DynamicHeader> DecodeDynamicHeader(std::span<const std::byte> bytes);
std::vector<std::byte> EncodeDynamicHeader(const DynamicHeader& header);

// How the virtual size was decided.
struct VirtualSize {
  uint64_t bytes = 0;
  bool from_geometry = false;  // cylinders x heads x sectors, else current_size
  std::string reason;          // one line for `info`
};

// The virtual size as QEMU (7.2 and later) decides it: Virtual PC and QEMU
// before force_size size a disk by its CHS geometry, Hyper-V ("win "),
// disk2vhd ("d2v "), XenServer ("tap\0"), XenConverter ("CTXS") and QEMU with
// force_size ("qem2") by current_size; a geometry at its maximum
// (65535/16/255) always means current_size. Either way whole sectors.
// kUnsupported above QEMU's 2040 GiB limit.
Result<VirtualSize> DecideVirtualSize(const Footer& footer);

// Bytes of the sector bitmap in front of each block: one bit per sector,
// padded to whole sectors.
uint64_t BitmapBytes(uint32_t block_bytes);

// "6ba7b810-9dad-11d1-80b4-00c04fd430c8": the 16 bytes in stored order.
std::string UniqueIdText(const UniqueId& id);

}  // namespace imgfs::vpc
