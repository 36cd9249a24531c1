// SPDX-License-Identifier: MIT
// Parallels header and format extension decoding (see header.h for the
// layout and its source).
#include "formats/parallels/header.h"

#include <cstring>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"
#include "core/util/sector.h"

namespace imgfs::parallels {
namespace {

// Header field offsets (parallels.txt "Header").
constexpr size_t kVersionOffset = 0x10;
constexpr size_t kHeadsOffset = 0x14;
constexpr size_t kCylindersOffset = 0x18;
constexpr size_t kTracksOffset = 0x1c;
constexpr size_t kBatEntriesOffset = 0x20;
constexpr size_t kSectorsOffset = 0x24;
constexpr size_t kInUseOffset = 0x2c;
constexpr size_t kDataOffOffset = 0x30;
constexpr size_t kFlagsOffset = 0x34;
constexpr size_t kExtOffOffset = 0x38;

// Format extension layout: magic, 16-byte MD5, then features of a 24-byte
// head (magic, flags, data size, padding) and their data padded to 8.
constexpr size_t kExtHeadBytes = 24;
constexpr size_t kFeatureHeadBytes = 24;
constexpr size_t kFeatureSizeOffset = 16;
// Dirty bitmap feature data: size u64, id[16], granularity u32, l1_size
// u32, then the L1 table.
constexpr size_t kBitmapHeadBytes = 32;
// Features in one cluster: each takes 24 bytes at least; a cap keeps a
// hostile list from filling info.
constexpr size_t kMaxFeatures = 64;

std::string HexBytes(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (std::byte b : bytes) {
    s += kDigits[std::to_integer<unsigned>(b) >> 4];
    s += kDigits[std::to_integer<unsigned>(b) & 15];
  }
  return s;
}

Status CheckLayout(const Header& h, uint64_t file_size) {
  if (h.cluster_sectors == 0) {
    return CorruptError("parallels: cluster size (tracks at 0x1c) is zero");
  }
  if (h.cluster_sectors > kMaxClusterSectors) {
    return UnsupportedError("parallels: cluster size of " + std::to_string(h.cluster_sectors) +
                            " sectors (tracks at 0x1c) is over the 256 MiB cap");
  }
  if (h.disk_sectors > kMaxDiskSectors) {
    return UnsupportedError("parallels: disk size of " + std::to_string(h.disk_sectors) +
                            " sectors (at 0x24) is absurd");
  }
  if (DivRoundUp(h.disk_sectors, h.cluster_sectors) > h.bat_entries) {
    return CorruptError("parallels: disk of " + std::to_string(h.disk_sectors) +
                        " sectors needs more than the " + std::to_string(h.bat_entries) +
                        " BAT entries (at 0x20) of " + std::to_string(h.cluster_sectors) +
                        " sectors");
  }
  const uint64_t bat_bytes = uint64_t{h.bat_entries} * 4;
  if (!RangeWithin(kHeaderBytes, bat_bytes, file_size)) {
    return CorruptError("parallels: BAT at 0x40 (" + std::to_string(h.bat_entries) +
                        " entries) extends past end of file (size " + Hex(file_size) + ")");
  }
  if (h.data_offset < kHeaderBytes + bat_bytes) {
    return CorruptError("parallels: data area at " + Hex(h.data_offset) +
                        " (data_off at 0x30) starts inside the BAT, which ends at " +
                        Hex(kHeaderBytes + bat_bytes));
  }
  if (h.ext_offset != 0 && !RangeWithin(h.ext_offset, kExtHeadBytes, file_size)) {
    return CorruptError("parallels: format extension at " + Hex(h.ext_offset) +
                        " (ext_off at 0x38) lies past end of file (size " + Hex(file_size) + ")");
  }
  return Status::Ok();
}

DirtyBitmap DecodeBitmap(std::span<const std::byte> data, std::vector<std::string>* problems) {
  DirtyBitmap b;
  if (data.size() < kBitmapHeadBytes) {
    problems->push_back("parallels: dirty bitmap feature of " + std::to_string(data.size()) +
                        " bytes is too short");
    return b;
  }
  const std::byte* p = data.data();
  b.size_sectors = LoadLE64(p);
  b.id = HexBytes(data.subspan(8, 16));
  b.granularity_sectors = LoadLE32(p + 24);
  const uint32_t l1_size = LoadLE32(p + 28);
  if (b.granularity_sectors == 0 || (b.granularity_sectors & (b.granularity_sectors - 1)) != 0) {
    problems->push_back("parallels: dirty bitmap granularity " +
                        std::to_string(b.granularity_sectors) + " is not a power of two");
  }
  if (uint64_t{l1_size} * 8 > data.size() - kBitmapHeadBytes) {
    problems->push_back("parallels: dirty bitmap L1 table of " + std::to_string(l1_size) +
                        " entries does not fit its feature data");
    return b;
  }
  b.l1.reserve(l1_size);
  for (uint32_t i = 0; i < l1_size; ++i) {
    b.l1.push_back(LoadLE64(p + kBitmapHeadBytes + size_t{i} * 8));
  }
  return b;
}

}  // namespace

bool HasMagic(std::span<const std::byte> bytes) {
  return bytes.size() >= kMagicBytes &&
         (std::memcmp(bytes.data(), kMagicSectors, kMagicBytes) == 0 ||
          std::memcmp(bytes.data(), kMagicClusters, kMagicBytes) == 0);
}

Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size) {
  if (bytes.size() < kHeaderBytes) {
    return CorruptError("parallels: header is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 64)");
  }
  if (!HasMagic(bytes)) {
    return CorruptError("parallels: no signature WithoutFreeSpace or WithouFreSpacExt at 0x0");
  }
  const std::byte* p = bytes.data();
  Header h;
  h.cluster_offsets = std::memcmp(p, kMagicClusters, kMagicBytes) == 0;
  if (const uint32_t version = LoadLE32(p + kVersionOffset); version != kVersion) {
    return UnsupportedError("parallels: version " + std::to_string(version) +
                            " at 0x10 is not supported (only 2)");
  }
  h.heads = LoadLE32(p + kHeadsOffset);
  h.cylinders = LoadLE32(p + kCylindersOffset);
  h.cluster_sectors = LoadLE32(p + kTracksOffset);
  h.bat_entries = LoadLE32(p + kBatEntriesOffset);
  h.disk_sectors = LoadLE64(p + kSectorsOffset);
  if (!h.cluster_offsets) {
    h.disk_sectors &= 0xffffffff;  // the old format uses only the low half
  }
  h.in_use = LoadLE32(p + kInUseOffset);
  if (h.in_use != 0 && h.in_use != kInUseDirty && h.in_use != kInUseClosed) {
    return CorruptError("parallels: in-use field " + Hex(h.in_use) +
                        " at 0x2c is not a known value");
  }
  const uint32_t data_off = LoadLE32(p + kDataOffOffset);
  // data_off 0 (old images): the data area starts at the sector after the
  // BAT. The cluster-offset format requires it non-zero; qemu tolerates 0
  // there too, and so do we.
  h.data_offset =
      data_off != 0
          ? uint64_t{data_off} * kSectorBytes
          : DivRoundUp(kHeaderBytes + uint64_t{h.bat_entries} * 4, kSectorBytes) * kSectorBytes;
  h.flags = LoadLE32(p + kFlagsOffset);
  const uint64_t ext_off = LoadLE64(p + kExtOffOffset);
  if (ext_off > kMaxDiskSectors) {
    return CorruptError("parallels: format extension offset " + Hex(ext_off) +
                        " sectors (ext_off at 0x38) is absurd");
  }
  h.ext_offset = ext_off * kSectorBytes;
  IMGFS_RETURN_IF_ERROR(CheckLayout(h, file_size));
  return h;
}

std::vector<std::byte> EncodeHeader(const Header& h) {
  std::vector<std::byte> out(kHeaderBytes);
  std::byte* p = out.data();
  std::memcpy(p, h.magic(), kMagicBytes);
  StoreLE32(p + kVersionOffset, kVersion);
  StoreLE32(p + kHeadsOffset, h.heads);
  StoreLE32(p + kCylindersOffset, h.cylinders);
  StoreLE32(p + kTracksOffset, h.cluster_sectors);
  StoreLE32(p + kBatEntriesOffset, h.bat_entries);
  StoreLE64(p + kSectorsOffset, h.disk_sectors);
  StoreLE32(p + kInUseOffset, h.in_use);
  StoreLE32(p + kDataOffOffset, static_cast<uint32_t>(h.data_offset / kSectorBytes));
  StoreLE32(p + kFlagsOffset, h.flags);
  StoreLE64(p + kExtOffOffset, h.ext_offset / kSectorBytes);
  return out;
}

Extension DecodeExtension(std::span<const std::byte> bytes) {
  Extension ext;
  if (bytes.size() < kExtHeadBytes || LoadLE64(bytes.data()) != kExtMagic) {
    ext.problems.push_back("parallels: format extension has no magic 0xab234cef23dcea87");
    return ext;
  }
  size_t pos = kExtHeadBytes;
  for (size_t n = 0;; ++n) {
    if (n == kMaxFeatures) {
      ext.problems.push_back("parallels: format extension lists more than " +
                             std::to_string(kMaxFeatures) + " features");
      return ext;
    }
    if (bytes.size() - pos < kFeatureHeadBytes) {
      ext.problems.push_back("parallels: format extension feature list has no end marker");
      return ext;
    }
    const std::byte* f = bytes.data() + pos;
    const uint64_t magic = LoadLE64(f);
    if (magic == kFeatureEnd) {
      return ext;
    }
    const uint32_t data_bytes = LoadLE32(f + kFeatureSizeOffset);
    pos += kFeatureHeadBytes;
    if (data_bytes > bytes.size() - pos) {
      ext.problems.push_back("parallels: format extension feature " + Hex(magic) + " of " +
                             std::to_string(data_bytes) + " bytes runs past its cluster");
      return ext;
    }
    const auto data = bytes.subspan(pos, data_bytes);
    if (magic == kFeatureDirtyBitmap) {
      ext.bitmaps.push_back(DecodeBitmap(data, &ext.problems));
    } else {
      ext.unknown_features.push_back(magic);
    }
    pos += (size_t{data_bytes} + 7) / 8 * 8;
    if (pos > bytes.size()) {
      pos = bytes.size();
    }
  }
}

}  // namespace imgfs::parallels
