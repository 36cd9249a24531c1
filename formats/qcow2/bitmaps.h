// SPDX-License-Identifier: MIT
// qcow2 persistent dirty bitmaps (QEMU docs/interop/qcow2.txt, "Bitmaps
// extension" and "Bitmaps"): the bitmap directory and its entries. Reading
// the guest disk ignores bitmaps; the checker counts their clusters and
// `info` lists them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"
#include "formats/qcow2/header.h"

namespace imgfs::qcow2 {

// QEMU's QCOW2_MAX_BITMAPS; the spec only asks for at least one.
inline constexpr uint32_t kMaxBitmaps = 65535;
// QEMU's QCOW2_MAX_BITMAP_DIRECTORY_SIZE: 1 KiB per bitmap.
inline constexpr uint64_t kMaxBitmapDirectoryBytes = uint64_t{1024} * kMaxBitmaps;
// QEMU's BME_MAX_TABLE_SIZE: a bitmap table of at most 1 GiB.
inline constexpr uint32_t kMaxBitmapTableEntries = 0x8000000;
// QEMU's BME_MAX_NAME_SIZE.
inline constexpr uint32_t kMaxBitmapNameBytes = 1023;
// The spec allows granularity bits 0..63; QEMU reads only 9..31.
inline constexpr uint32_t kMinBitmapGranularityBits = 9;
inline constexpr uint32_t kMaxBitmapGranularityBits = 31;

// Directory entry flags (spec "Bitmap directory").
inline constexpr uint32_t kBitmapInUse = 1u << 0;
inline constexpr uint32_t kBitmapAuto = 1u << 1;
inline constexpr uint32_t kBitmapExtraDataCompatible = 1u << 2;
inline constexpr uint32_t kBitmapReservedFlags = ~uint32_t{7};
inline constexpr uint8_t kBitmapTypeDirtyTracking = 1;

// Bitmap table entry (spec "Bitmap table"): bits 9-55 the data cluster,
// bit 0 "all ones" when no cluster is allocated; bits 1-8 and 56-63 reserved.
inline constexpr uint64_t kBitmapEntryOffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kBitmapEntryReservedMask = 0xff000000000001feull;
inline constexpr uint64_t kBitmapEntryAllOnes = 1ull << 0;

struct BitmapEntry {
  uint64_t entry_offset = 0;  // where this directory entry lies in the file
  uint64_t table_offset = 0;
  uint32_t table_entries = 0;
  uint32_t flags = 0;
  uint8_t type = 0;
  uint8_t granularity_bits = 0;
  uint32_t extra_data_bytes = 0;
  std::string name;
};

// Decodes a bitmap directory read from `dir_offset`: exactly `nb_bitmaps`
// entries that fill `dir` to its end. kCorrupt when an entry is truncated,
// the count disagrees with the extension or bytes are left over.
Result<std::vector<BitmapEntry>> DecodeBitmapDirectory(std::span<const std::byte> dir,
                                                       uint64_t dir_offset, uint32_t nb_bitmaps);

// The first way `e` breaks the spec or QEMU's limits for an image with
// header `h`, as a message naming the bitmap, or "" when it is valid. The
// table must be cluster aligned and exactly as long as a bitmap of the
// entry's granularity over the virtual disk needs.
std::string BitmapEntryProblem(const Header& h, const BitmapEntry& e);

// Validates h.bitmaps (the extension), reads the directory it points to
// and decodes it. Entries are not validated (see BitmapEntryProblem).
// REQUIRES: h.bitmaps. kCorrupt for a malformed extension or directory.
Result<std::vector<BitmapEntry>> ReadBitmapDirectory(const File& file, const Header& h);

// Bitmap table entries a bitmap of 2^granularity_bits bytes per bit needs
// to cover `virtual_bytes` with clusters of 2^cluster_bits.
// REQUIRES: granularity_bits <= 63.
uint64_t BitmapTableEntriesNeeded(uint64_t virtual_bytes, uint32_t granularity_bits,
                                  uint32_t cluster_bits);

}  // namespace imgfs::qcow2
