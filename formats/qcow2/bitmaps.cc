// SPDX-License-Identifier: MIT
// Decoding and validation of the qcow2 bitmap directory (QEMU
// docs/interop/qcow2.txt, "Bitmap directory"). Every count and size read
// from disk is bounded before it is used.
#include "formats/qcow2/bitmaps.h"

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::qcow2 {
namespace {

// Directory entry fields (spec "Bitmap directory").
constexpr size_t kEntryTableOffset = 0;
constexpr size_t kEntryTableSize = 8;
constexpr size_t kEntryFlags = 12;
constexpr size_t kEntryType = 16;
constexpr size_t kEntryGranularityBits = 17;
constexpr size_t kEntryNameSize = 18;
constexpr size_t kEntryExtraDataSize = 20;
constexpr size_t kEntryFixedBytes = 24;
// Extra data per entry: the spec defines none yet; bound it like QEMU's
// snapshot extra data so one entry cannot claim gigabytes.
constexpr uint32_t kMaxBitmapExtraDataBytes = 1024;

Status Corrupt(const std::string& what) { return CorruptError("qcow2: " + what); }

std::string Named(const BitmapEntry& e) {
  return "bitmap '" + e.name + "' (directory entry at " + Hex(e.entry_offset) + ")";
}

}  // namespace

uint64_t BitmapTableEntriesNeeded(uint64_t virtual_bytes, uint32_t granularity_bits,
                                  uint32_t cluster_bits) {
  uint64_t bits = DivRoundUp(virtual_bytes, uint64_t{1} << granularity_bits);
  return DivRoundUp(DivRoundUp(bits, 8), uint64_t{1} << cluster_bits);
}

Result<std::vector<BitmapEntry>> DecodeBitmapDirectory(std::span<const std::byte> dir,
                                                       uint64_t dir_offset, uint32_t nb_bitmaps) {
  std::vector<BitmapEntry> entries;
  size_t at = 0;
  while (at < dir.size()) {
    uint64_t where = dir_offset + at;
    if (entries.size() >= nb_bitmaps) {
      return Corrupt("bitmap directory at " + Hex(dir_offset) + " holds more than the " +
                     std::to_string(nb_bitmaps) + " bitmaps of the bitmaps extension");
    }
    if (dir.size() - at < kEntryFixedBytes) {
      return Corrupt("bitmap directory entry at " + Hex(where) + " is truncated");
    }
    const std::byte* p = dir.data() + at;
    BitmapEntry e;
    e.entry_offset = where;
    e.table_offset = LoadBE64(p + kEntryTableOffset);
    e.table_entries = LoadBE32(p + kEntryTableSize);
    e.flags = LoadBE32(p + kEntryFlags);
    e.type = static_cast<uint8_t>(p[kEntryType]);
    e.granularity_bits = static_cast<uint8_t>(p[kEntryGranularityBits]);
    uint32_t name_bytes = LoadBE16(p + kEntryNameSize);
    e.extra_data_bytes = LoadBE32(p + kEntryExtraDataSize);
    if (e.extra_data_bytes > kMaxBitmapExtraDataBytes) {
      return Corrupt("bitmap directory entry at " + Hex(where) + " has " +
                     std::to_string(e.extra_data_bytes) + " bytes of extra data, more than " +
                     std::to_string(kMaxBitmapExtraDataBytes));
    }
    // Both sizes are bounded above, so the sum cannot overflow.
    uint64_t body = kEntryFixedBytes + uint64_t{e.extra_data_bytes} + name_bytes;
    uint64_t padded = (body + 7) & ~uint64_t{7};
    if (padded > dir.size() - at) {
      return Corrupt("bitmap directory entry at " + Hex(where) + " (" + std::to_string(padded) +
                     " bytes) extends past the directory end " + Hex(dir_offset + dir.size()));
    }
    auto name = dir.subspan(at + kEntryFixedBytes + e.extra_data_bytes, name_bytes);
    e.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    entries.push_back(std::move(e));
    at += static_cast<size_t>(padded);
  }
  if (entries.size() != nb_bitmaps) {
    return Corrupt("bitmap directory at " + Hex(dir_offset) + " holds " +
                   std::to_string(entries.size()) + " bitmaps, the bitmaps extension says " +
                   std::to_string(nb_bitmaps));
  }
  return entries;
}

std::string BitmapEntryProblem(const Header& h, const BitmapEntry& e) {
  if (e.name.empty() || e.name.size() > kMaxBitmapNameBytes) {
    return "qcow2: " + Named(e) + " has a name of " + std::to_string(e.name.size()) +
           " bytes (1.." + std::to_string(kMaxBitmapNameBytes) + ")";
  }
  if (e.type != kBitmapTypeDirtyTracking) {
    return "qcow2: " + Named(e) + " has unknown type " + std::to_string(e.type);
  }
  if (e.flags & kBitmapReservedFlags) {
    return "qcow2: " + Named(e) + " has reserved flags set (" + Hex(e.flags) + ")";
  }
  if (e.granularity_bits < kMinBitmapGranularityBits ||
      e.granularity_bits > kMaxBitmapGranularityBits) {
    return "qcow2: " + Named(e) + " has granularity bits " + std::to_string(e.granularity_bits) +
           " outside 9..31";
  }
  if (e.table_offset == 0 || e.table_offset % h.cluster_size() != 0) {
    return "qcow2: " + Named(e) + " has bitmap table offset " + Hex(e.table_offset) +
           ", not a cluster boundary";
  }
  if (e.table_entries == 0 || e.table_entries > kMaxBitmapTableEntries) {
    return "qcow2: " + Named(e) + " has a bitmap table of " + std::to_string(e.table_entries) +
           " entries (1.." + std::to_string(kMaxBitmapTableEntries) + ")";
  }
  uint64_t needed = BitmapTableEntriesNeeded(h.size_bytes, e.granularity_bits, h.cluster_bits);
  if (e.table_entries != needed) {
    return "qcow2: " + Named(e) + " has a bitmap table of " + std::to_string(e.table_entries) +
           " entries, its granularity and the virtual size need " + std::to_string(needed);
  }
  return "";
}

Result<std::vector<BitmapEntry>> ReadBitmapDirectory(const File& file, const Header& h) {
  if (!h.bitmaps) {
    return Corrupt("bitmaps extension is missing");
  }
  const BitmapsExtension& ext = *h.bitmaps;
  if (ext.data_bytes < kBitmapsExtensionBytes) {
    return Corrupt("bitmaps extension has " + std::to_string(ext.data_bytes) + " bytes, need " +
                   std::to_string(kBitmapsExtensionBytes));
  }
  if (ext.nb_bitmaps == 0 || ext.nb_bitmaps > kMaxBitmaps) {
    return Corrupt("bitmaps extension lists " + std::to_string(ext.nb_bitmaps) + " bitmaps (1.." +
                   std::to_string(kMaxBitmaps) + ")");
  }
  if (ext.reserved != 0) {
    return Corrupt("bitmaps extension has reserved field " + Hex(ext.reserved) + " set");
  }
  if (ext.directory_bytes == 0 || ext.directory_bytes > kMaxBitmapDirectoryBytes) {
    return Corrupt("bitmap directory at " + Hex(ext.directory_offset) + " has size " +
                   std::to_string(ext.directory_bytes) + " (1.." +
                   std::to_string(kMaxBitmapDirectoryBytes) + ")");
  }
  if (ext.directory_offset % h.cluster_size() != 0) {
    return Corrupt("bitmap directory at " + Hex(ext.directory_offset) + " is not cluster aligned");
  }
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (!RangeWithin(ext.directory_offset, ext.directory_bytes, file_size)) {
    return Corrupt("bitmap directory at " + Hex(ext.directory_offset) +
                   " extends past end of file (size " + Hex(file_size) + ")");
  }
  std::vector<std::byte> dir(static_cast<size_t>(ext.directory_bytes));
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(ext.directory_offset, dir, "qcow2: bitmap directory"));
  return DecodeBitmapDirectory(dir, ext.directory_offset, ext.nb_bitmaps);
}

}  // namespace imgfs::qcow2
