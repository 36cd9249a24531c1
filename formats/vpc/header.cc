// SPDX-License-Identifier: MIT
// VHD footer and dynamic header codecs and the virtual size rule (see header.h).
#include "formats/vpc/header.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "core/util/endian.h"
#include "core/util/hex.h"
#include "core/util/sector.h"
#include "core/util/utf16.h"

namespace imgfs::vpc {
namespace {

// Footer fields (spec "Hard Disk Footer Format").
constexpr size_t kCookie = 0;
constexpr size_t kFeatures = 8;
constexpr size_t kFormatVersion = 12;
constexpr size_t kDataOffset = 16;
constexpr size_t kTimestamp = 24;
constexpr size_t kCreatorApp = 28;
constexpr size_t kCreatorVersion = 32;
constexpr size_t kCreatorOs = 36;
constexpr size_t kOriginalSize = 40;
constexpr size_t kCurrentSize = 48;
constexpr size_t kCylinders = 56;
constexpr size_t kHeads = 58;
constexpr size_t kSectorsPerTrack = 59;
constexpr size_t kDiskType = 60;
constexpr size_t kFooterChecksum = 64;
constexpr size_t kUniqueId = 68;
constexpr size_t kSavedState = 84;
constexpr char kFooterCookie[] = "conectix";

// Dynamic disk header fields (spec "Dynamic Disk Header Format").
constexpr size_t kHeaderDataOffset = 8;
constexpr size_t kTableOffset = 16;
constexpr size_t kHeaderVersion = 24;
constexpr size_t kMaxTableEntries = 28;
constexpr size_t kBlockSize = 32;
constexpr size_t kHeaderChecksum = 36;
constexpr size_t kParentUniqueId = 40;
constexpr size_t kParentTimestamp = 56;
constexpr size_t kParentName = 64;
constexpr size_t kParentNameBytes = 512;
constexpr size_t kLocators = 576;
constexpr size_t kLocatorBytes = 24;
constexpr char kHeaderCookie[] = "cxsparse";

// QEMU's limits (block/vpc.c): the largest geometry, which means "use
// current_size", and the largest disk it opens (2040 GiB, the spec's own
// maximum for Windows).
constexpr uint64_t kMaxGeometrySectors = uint64_t{65535} * 16 * 255;
constexpr uint64_t kMaxSectors = 0xff000000;
constexpr uint32_t kXenServerApp = 0x74617000;  // "tap\0"

bool CookieIs(std::span<const std::byte> bytes, const char (&cookie)[9]) {
  return std::memcmp(bytes.data(), cookie, 8) == 0;
}

}  // namespace

std::string FourCcText(uint32_t code) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const auto c = static_cast<char>((code >> shift) & 0xff);
    if (c < 0x20 || c > 0x7e) {
      return c == 0 && shift == 0 && s.size() == 3 ? s + "\\0" : Hex(code);
    }
    s.push_back(c);
  }
  return s;
}

uint32_t Checksum(std::span<const std::byte> bytes, size_t checksum_offset) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i < checksum_offset || i >= checksum_offset + 4) {
      sum += std::to_integer<uint32_t>(bytes[i]);
    }
  }
  return ~sum;
}

Result<Footer> DecodeFooter(std::span<const std::byte> bytes) {
  if (bytes.size() < kFooterBytes) {
    return CorruptError("vpc: footer is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 512)");
  }
  bytes = bytes.first(kFooterBytes);
  if (!CookieIs(bytes, kFooterCookie)) {
    return CorruptError("vpc: footer has no 'conectix' cookie");
  }
  const std::byte* p = bytes.data();
  Footer f;
  f.features = LoadBE32(p + kFeatures);
  f.format_version = LoadBE32(p + kFormatVersion);
  f.data_offset = LoadBE64(p + kDataOffset);
  f.timestamp = LoadBE32(p + kTimestamp);
  f.creator_app = LoadBE32(p + kCreatorApp);
  f.creator_version = LoadBE32(p + kCreatorVersion);
  f.creator_os = LoadBE32(p + kCreatorOs);
  f.original_size = LoadBE64(p + kOriginalSize);
  f.current_size = LoadBE64(p + kCurrentSize);
  f.cylinders = LoadBE16(p + kCylinders);
  f.heads = std::to_integer<uint8_t>(p[kHeads]);
  f.sectors_per_track = std::to_integer<uint8_t>(p[kSectorsPerTrack]);
  f.disk_type = LoadBE32(p + kDiskType);
  f.checksum = LoadBE32(p + kFooterChecksum);
  std::copy_n(p + kUniqueId, f.unique_id.size(), f.unique_id.begin());
  f.saved_state = std::to_integer<uint8_t>(p[kSavedState]);
  f.checksum_ok = Checksum(bytes, kFooterChecksum) == f.checksum;
  return f;
}

std::vector<std::byte> EncodeFooter(const Footer& f) {
  std::vector<std::byte> out(kFooterBytes);
  std::byte* p = out.data();
  std::memcpy(p + kCookie, kFooterCookie, 8);
  StoreBE32(p + kFeatures, f.features);
  StoreBE32(p + kFormatVersion, f.format_version);
  StoreBE64(p + kDataOffset, f.data_offset);
  StoreBE32(p + kTimestamp, f.timestamp);
  StoreBE32(p + kCreatorApp, f.creator_app);
  StoreBE32(p + kCreatorVersion, f.creator_version);
  StoreBE32(p + kCreatorOs, f.creator_os);
  StoreBE64(p + kOriginalSize, f.original_size);
  StoreBE64(p + kCurrentSize, f.current_size);
  StoreBE16(p + kCylinders, f.cylinders);
  p[kHeads] = std::byte{f.heads};
  p[kSectorsPerTrack] = std::byte{f.sectors_per_track};
  StoreBE32(p + kDiskType, f.disk_type);
  std::copy(f.unique_id.begin(), f.unique_id.end(), p + kUniqueId);
  p[kSavedState] = std::byte{f.saved_state};
  StoreBE32(p + kFooterChecksum, Checksum(out, kFooterChecksum));
  return out;
}

Result<DynamicHeader> DecodeDynamicHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kDynamicHeaderBytes) {
    return CorruptError("vpc: dynamic disk header is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 1024)");
  }
  bytes = bytes.first(kDynamicHeaderBytes);
  if (!CookieIs(bytes, kHeaderCookie)) {
    return CorruptError("vpc: dynamic disk header has no 'cxsparse' cookie");
  }
  const std::byte* p = bytes.data();
  DynamicHeader h;
  h.data_offset = LoadBE64(p + kHeaderDataOffset);
  h.table_offset = LoadBE64(p + kTableOffset);
  h.header_version = LoadBE32(p + kHeaderVersion);
  h.max_table_entries = LoadBE32(p + kMaxTableEntries);
  h.block_bytes = LoadBE32(p + kBlockSize);
  if (h.block_bytes < kSectorBytes || (h.block_bytes & (h.block_bytes - 1)) != 0) {
    return CorruptError("vpc: dynamic disk header at 0x20 has block size " +
                        std::to_string(h.block_bytes) + " (a power of two from 512)");
  }
  h.checksum = LoadBE32(p + kHeaderChecksum);
  std::copy_n(p + kParentUniqueId, h.parent_unique_id.size(), h.parent_unique_id.begin());
  h.parent_timestamp = LoadBE32(p + kParentTimestamp);
  h.parent_name = Utf16ToUtf8(bytes.subspan(kParentName, kParentNameBytes), Utf16Order::kBig);
  for (size_t i = 0; i < kParentLocatorCount; ++i) {
    const std::byte* e = p + kLocators + i * kLocatorBytes;
    h.locators[i] = ParentLocator{LoadBE32(e), LoadBE32(e + 4), LoadBE32(e + 8), LoadBE64(e + 16)};
  }
  h.checksum_ok = Checksum(bytes, kHeaderChecksum) == h.checksum;
  return h;
}

std::vector<std::byte> EncodeDynamicHeader(const DynamicHeader& h) {
  std::vector<std::byte> out(kDynamicHeaderBytes);
  std::byte* p = out.data();
  std::memcpy(p, kHeaderCookie, 8);
  StoreBE64(p + kHeaderDataOffset, h.data_offset);
  StoreBE64(p + kTableOffset, h.table_offset);
  StoreBE32(p + kHeaderVersion, h.header_version);
  StoreBE32(p + kMaxTableEntries, h.max_table_entries);
  StoreBE32(p + kBlockSize, h.block_bytes);
  std::copy(h.parent_unique_id.begin(), h.parent_unique_id.end(), p + kParentUniqueId);
  StoreBE32(p + kParentTimestamp, h.parent_timestamp);
  // The name as UTF-16BE; tests use ASCII names only.
  for (size_t i = 0; i < h.parent_name.size() && 2 * i + 2 <= kParentNameBytes; ++i) {
    StoreBE16(p + kParentName + 2 * i, static_cast<uint8_t>(h.parent_name[i]));
  }
  for (size_t i = 0; i < kParentLocatorCount; ++i) {
    std::byte* e = p + kLocators + i * kLocatorBytes;
    const ParentLocator& l = h.locators[i];
    StoreBE32(e, l.platform_code);
    StoreBE32(e + 4, l.data_space);
    StoreBE32(e + 8, l.data_length);
    StoreBE64(e + 16, l.data_offset);
  }
  StoreBE32(p + kHeaderChecksum, Checksum(out, kHeaderChecksum));
  return out;
}

Result<VirtualSize> DecideVirtualSize(const Footer& f) {
  const uint64_t chs_sectors = uint64_t{f.cylinders} * f.heads * f.sectors_per_track;
  // QEMU's table (block/vpc.c, "Known creator apps"): these size by
  // current_size; everything else ("vpc ", "qemu", unknown) by geometry.
  static constexpr uint32_t kCurrentSizeApps[] = {FourCc("win "), FourCc("qem2"), FourCc("d2v "),
                                                  FourCc("CTXS"), kXenServerApp};
  const bool by_size = std::find(std::begin(kCurrentSizeApps), std::end(kCurrentSizeApps),
                                 f.creator_app) != std::end(kCurrentSizeApps);
  const std::string app_text = "'" + FourCcText(f.creator_app) + "'";
  VirtualSize v;
  if (by_size) {
    v.reason = "creator " + app_text + " sizes disks by current_size";
  } else if (chs_sectors == kMaxGeometrySectors) {
    v.reason = "geometry 65535/16/255 is the maximum, which means current_size";
  } else {
    v.from_geometry = true;
    v.reason = "creator " + app_text + " sizes disks by CHS geometry (" +
               std::to_string(f.cylinders) + "/" + std::to_string(f.heads) + "/" +
               std::to_string(f.sectors_per_track) + ")";
  }
  const uint64_t sectors = v.from_geometry ? chs_sectors : f.current_size / kSectorBytes;
  if (sectors > kMaxSectors) {
    return UnsupportedError("vpc: virtual size of " + std::to_string(sectors) +
                            " sectors is over the 2040 GiB VHD limit");
  }
  v.bytes = sectors * kSectorBytes;
  return v;
}

uint64_t BitmapBytes(uint32_t block_bytes) {
  // QEMU computes (bits / 8) rounded up to a sector, which is 0 for blocks
  // under 4 KiB; the specification's sector of bitmap is what others write.
  const uint64_t bitmap_bytes = (block_bytes / kSectorBytes + 7) / 8;
  return (bitmap_bytes + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
}

std::string UniqueIdText(const UniqueId& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      s.push_back('-');
    }
    const auto b = std::to_integer<uint8_t>(id[i]);
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0xf]);
  }
  return s;
}

}  // namespace imgfs::vpc
